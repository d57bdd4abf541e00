"""`camaudit detect IMAGE...`: run the face detector on still images (local debugging)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import numpy as np

from camaudit.core.types import Detection
from camaudit.errors import SourceError

log = logging.getLogger(__name__)


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image; SourceError if the file is missing or not an image."""
    import cv2

    if not path.is_file():
        raise SourceError(f"{path}: no such image file")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SourceError(f"{path}: not a readable image")
    return image


def annotate(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A copy of `image` with every box and its score drawn (faces are NOT blurred)."""
    import cv2

    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 500))
    for d in detections:
        p1 = (round(d.x), round(d.y))
        p2 = (round(d.x2), round(d.y2))
        cv2.rectangle(out, p1, p2, (0, 255, 0), thick)
        cv2.putText(
            out,
            f"{d.score:.2f} {d.face_px}px",
            (p1[0], max(0, p1[1] - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            (0, 255, 0),
            thick,
        )
    return out


def _as_dict(d: Detection) -> dict[str, float | int]:
    return {
        "x": round(d.x, 1),
        "y": round(d.y, 1),
        "w": round(d.w, 1),
        "h": round(d.h, 1),
        "score": round(d.score, 4),
        "face_px": d.face_px,
    }


@click.command("detect")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <name>.detect.png with the boxes drawn into this folder. These debugging "
    "images show faces UNBLURRED: keep them local and delete them when done.",
)
@click.option(
    "--model",
    default="yunet-int8-640",
    show_default=True,
    help="Detector: yunet-int8-640, yunet-int8-320 (fast), accurate, yunet-fp32-640.",
)
@click.option(
    "--min-score", default=0.6, show_default=True, type=click.FloatRange(0.0, 1.0, min_open=True)
)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image.")
def detect_cmd(
    images: tuple[Path, ...],
    out_dir: Path | None,
    model: str,
    min_score: float,
    threads: int,
    as_json: bool,
) -> None:
    """Detect faces in IMAGE files; print boxes (frame pixels) and scores.

    A local debugging tool: with --out it writes annotated PNGs in which faces are
    not blurred (unlike the evidence frames of the audit itself).
    """
    from camaudit.detect.registry import load_detector

    detector = load_detector(model, threads=threads, min_score=min_score)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in images:
        image = read_image(path)
        found = detector.detect(image)
        written = None
        if out_dir is not None:
            import cv2

            written = out_dir / f"{path.stem}.detect.png"
            if not cv2.imwrite(str(written), annotate(image, found)):
                raise SourceError(f"{written}: cannot write image")
        if as_json:
            record = {
                "image": str(path),
                "width": image.shape[1],
                "height": image.shape[0],
                "model": model,
                "faces": [_as_dict(d) for d in found],
                "annotated": str(written) if written else None,
            }
            click.echo(json.dumps(record))
            continue
        click.echo(f"{path}: {len(found)} face(s) [{image.shape[1]}x{image.shape[0]}, {model}]")
        for d in found:
            click.echo(
                f"  x={d.x:.0f} y={d.y:.0f} w={d.w:.0f} h={d.h:.0f} score={d.score:.3f} "
                f"face_px={d.face_px}"
            )
        if written:
            click.echo(f"  annotated: {written}")
