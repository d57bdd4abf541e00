"""The evidence frames a hostile device key signs to make the hub keep a face (issue 20 #1),
built from one real frame of a shared clip. Used by tests/hub/test_hub_evidence_safe.py and
bench/hub_privacy.py (one definition of each attack).

- three frames that are NOT the safe view, each a 4096x2304 plain wall with a raw face
  pasted in: 200 px tall, turned 90 degrees, and at 12% contrast;
- two correct safe views carrying the raw frame: as an EXIF (APP1) thumbnail, and as a
  second JPEG after the end of the image.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

MISSED_FACE = ("face_200px", "face_turned_90", "face_12pct_contrast")
POLYGLOTS = ("exif_thumbnail", "jpeg_after_eoi")
ATTACKS = MISSED_FACE + POLYGLOTS


def enc(img: np.ndarray, quality: int = 85) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def enc_small(img: np.ndarray) -> bytes:
    """Huffman-optimised JPEG: a 4096x2304 frame under the hub's 120,000-byte bound."""
    buf = io.BytesIO()
    Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue()


def face_crop(frame: np.ndarray, px: int = 200) -> np.ndarray:
    """The largest face the shipped detector finds in `frame`, scaled to px tall."""
    from camaudit.detect import load_detector

    d = max(load_detector(min_score=0.5).detect(frame), key=lambda b: b.h)
    crop = frame[int(d.y):int(d.y2), int(d.x):int(d.x2)]
    s = px / crop.shape[0]
    return cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)


def big_safe_view_with(patch: np.ndarray) -> np.ndarray:
    """A 4096x2304 safe view (a plain wall: it stays under the hub's byte bound) with a raw
    patch pasted in."""
    out = np.full((2304, 4096, 3), 118, np.uint8)
    h, w = patch.shape[:2]
    out[1000:1000 + h, 2000:2000 + w] = patch
    return out


def low_contrast(img: np.ndarray, share: float = 0.12) -> np.ndarray:
    m = img.mean()
    return (m + share * (img.astype(np.float32) - m)).clip(0, 255).astype(np.uint8)


def missed_face(frame: np.ndarray, attack: str) -> bytes:
    """One of MISSED_FACE: the JPEG a device key would sign."""
    crop = face_crop(frame, 200)
    patch = {"face_200px": crop, "face_turned_90": cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE),
             "face_12pct_contrast": low_contrast(crop)}[attack]
    return enc_small(big_safe_view_with(patch))


def polyglots(frame: np.ndarray) -> tuple[bytes, bytes]:
    """A correct safe view of `frame` carrying the raw frame (a) as its EXIF thumbnail, (b) as
    a second JPEG appended after its end of image."""
    from camaudit.core.types import Detection
    from camaudit.pipeline.evidence import evidence_image

    safe = evidence_image(frame, [Detection(200, 60, 60, 70, 0.9)])
    rgb = Image.fromarray(cv2.cvtColor(safe, cv2.COLOR_BGR2RGB))
    thumb = enc(cv2.resize(frame, (160, 120)))
    exif = Image.Exif()
    exif[0x010E] = "raw"  # ImageDescription; the thumbnail rides in IFD1 below
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    with_app1 = bytearray(buf.getvalue())
    # splice an APP1 "Exif" segment whose payload ends with the raw face JPEG
    seg = b"Exif\x00\x00" + thumb
    app1 = b"\xff\xe1" + (len(seg) + 2).to_bytes(2, "big") + seg
    thumbed = bytes(with_app1[:2]) + app1 + bytes(with_app1[2:])
    appended = enc(safe) + enc(frame)
    return thumbed, appended


def attack_frames(frame: np.ndarray) -> dict[str, bytes]:
    """name -> the JPEG bytes of every attack in ATTACKS, built from `frame`."""
    thumbed, appended = polyglots(frame)
    out = {a: missed_face(frame, a) for a in MISSED_FACE}
    out.update(exif_thumbnail=thumbed, jpeg_after_eoi=appended)
    return out


def hidden_image(attack: str, data: bytes) -> np.ndarray | None:
    """The raw image a polyglot hides (what a viewer that reads the thumbnail, or the bytes
    after the end of the image, would show); None for the other attacks."""
    if attack == "exif_thumbnail":
        start = data.index(b"Exif\x00\x00") + 6
        part = data[start:data.index(b"\xff\xd9", start) + 2]
    elif attack == "jpeg_after_eoi":
        part = data[data.index(b"\xff\xd9") + 2:]
    else:
        return None
    img = cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_COLOR)
    return img
