"""CLI: `camaudit notice print`, `camaudit release start/stop/list`, `camaudit snapshot`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from camaudit.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="YAML config file.",
)


def _load(path: Path):  # type: ignore[no-untyped-def]
    from camaudit.config import load_config

    return load_config(path)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fmt(ts_ms: int, timezone: str | None = None) -> str:
    """The venue's local time, zone named (camaudit.core.venue_time)."""
    from camaudit.core import venue_time

    return venue_time.fmt(ts_ms, venue_time.zone_or_utc(timezone))


@click.group("notice")
def notice_cmd() -> None:
    """Posted privacy notices: print the sign the device watches for."""


@notice_cmd.command("print")
@click.argument("notice_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="FILE.pdf or FILE.png")
@click.option("--size", type=click.Choice(["A4", "A5"], case_sensitive=False), default="A4", show_default=True)
@click.option("--dpi", type=click.IntRange(72, 600), default=300, show_default=True)
@config_option
def notice_print(notice_id: str, output: Path, size: str, dpi: int, config_path: Path) -> None:
    """Write the sign for notice NOTICE_ID (first-layer text, pictogram, QR marker)."""
    from camaudit.notices.marker import marker_payload
    from camaudit.notices.sign import save_sign

    cfg = _load(config_path)
    notice = cfg.notices.get(notice_id)
    if notice is None:
        known = ", ".join(sorted(cfg.notices)) or "none"
        raise ConfigError(f"{config_path}: no notice {notice_id!r} (notices: {known})")
    save_sign(notice_id, notice, output, paper=size.upper(), dpi=dpi)
    click.echo(f"{output}: notice {notice_id}, {size.upper()}, marker {marker_payload(notice_id, notice)}"
               + (f", QR leads to {notice.public_page}" if notice.public_page else ""))


@click.group("release")
def release_cmd() -> None:
    """Release sessions: time-bounded periods covered by written releases (basis release:REF)."""


def _check_feeds(cfg, feeds: tuple[str, ...], config_path: Path) -> None:  # type: ignore[no-untyped-def]
    for f in feeds:
        if f not in cfg.feeds:
            raise ConfigError(f"{config_path}: unknown feed {f!r} (feeds: {', '.join(sorted(cfg.feeds))})")


@release_cmd.command("start")
@click.option("--feed", "feeds", multiple=True, required=True, help="Feed covered (repeat for more).")
@click.option("--ref", required=True, help="Reference of the signed releases (study or shoot id).")
@click.option("--minutes", type=float, default=60.0, show_default=True, help="How long it lasts.")
@config_option
def release_start(feeds: tuple[str, ...], ref: str, minutes: float, config_path: Path) -> None:
    """Start a release session on the given feeds, from now."""
    from camaudit.notices.releases import start_release

    cfg = _load(config_path)
    _check_feeds(cfg, feeds, config_path)
    r = start_release(cfg.device.data_dir, ref, feeds, _now_ms(), minutes)
    click.echo(f"release {r.ref} active on {', '.join(sorted(r.feeds))} until {_fmt(r.end_ms, cfg.device.timezone)}")


@release_cmd.command("stop")
@click.option("--ref", required=True)
@config_option
def release_stop(ref: str, config_path: Path) -> None:
    """End a release session now."""
    from camaudit.notices.releases import stop_release

    cfg = _load(config_path)
    for r in stop_release(cfg.device.data_dir, ref, _now_ms()):
        click.echo(f"release {r.ref} stopped at {_fmt(r.end_ms, cfg.device.timezone)}")


@release_cmd.command("list")
@config_option
def release_list(config_path: Path) -> None:
    """Show release sessions (declared in the config and started here)."""
    from camaudit.notices.releases import all_releases

    cfg = _load(config_path)
    now = _now_ms()
    rows = [rc.to_release() for rc in cfg.releases] + all_releases(cfg.device.data_dir)
    if not rows:
        click.echo("no release sessions")
    for r in rows:
        state = "active" if r.start_ms <= now < r.end_ms else ("ended" if r.end_ms <= now else "planned")
        click.echo(f"{r.ref}\t{','.join(sorted(r.feeds))}\t{_fmt(r.start_ms, cfg.device.timezone)} .. {_fmt(r.end_ms, cfg.device.timezone)}\t{state}")


@click.command("snapshot")
@click.argument("feed")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="FILE.png")
@click.option("--timeout", "timeout_s", type=float, default=20.0, show_default=True, help="Give up after this long.")
@config_option
def snapshot_cmd(feed: str, output: Path, timeout_s: float, config_path: Path) -> None:
    """One frame of FEED with grid, privacy zones, notice regions and blurred faces (local only)."""
    import cv2

    from camaudit.detect import load_detector
    from camaudit.notices.snapshot import annotate_snapshot
    from camaudit.sources import Frame, open_source

    cfg = _load(config_path)
    fc = cfg.feeds.get(feed)
    if fc is None:
        raise ConfigError(f"{config_path}: unknown feed {feed!r} (feeds: {', '.join(sorted(cfg.feeds))})")
    if output.suffix.lower() != ".png":
        raise click.BadParameter("the snapshot is written as PNG: use FILE.png", param_hint="-o")
    src = open_source(fc.source)
    frame = None
    deadline = time.monotonic() + timeout_s
    try:
        for item in src.items():
            if isinstance(item, Frame):
                frame = item
                break
            if time.monotonic() > deadline:
                break
    finally:
        src.close()
    if frame is None:
        raise SourceError(f"feed {feed!r} ({fc.source}): no frame within {timeout_s:.0f} s")
    det = load_detector(cfg.detector.model, threads=cfg.detector.threads, min_score=cfg.detector.min_score)
    faces = det.detect(frame.image)
    regions = {
        nid: n.watch.region
        for nid, n in sorted(cfg.notices.items())
        if n.watch is not None and n.watch.feed == feed
    }
    img = annotate_snapshot(frame.image, faces, [list(z) for z in fc.privacy_zones], regions)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), img):
        raise SourceError(f"{output}: cannot write the snapshot")
    click.echo(
        f"{output}: feed {feed}, {img.shape[1]}x{img.shape[0]}, {len(faces)} face(s) blurred, "
        f"{len(fc.privacy_zones)} privacy zone(s), {len(regions)} notice region(s)"
    )
    for line in marker_report(cfg, feed, frame.image):
        click.echo(line)


def marker_report(cfg, feed: str, image) -> list[str]:  # type: ignore[no-untyped-def]
    """For each notice watched from `feed`: is its marker read in this frame's region?"""
    from camaudit.notices.watcher import NoticeWatcher

    out = []
    for nid, n in sorted(cfg.notices.items()):
        if n.watch is None or n.watch.feed != feed:
            continue
        valid, other = NoticeWatcher(nid, n).look(image)
        if valid:
            out.append(f"notice {nid}: marker read in its region")
        elif other:
            out.append(f"notice {nid}: a sign for this notice with OTHER content is posted: reprint it")
        else:
            out.append(
                f"notice {nid}: marker NOT read in region {list(n.watch.region)} "
                "(is the sign there, at least 140 px wide in this frame?)"
            )
    return out
