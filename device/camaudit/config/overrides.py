"""Command-line options that override (or stand in for) a config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from camaudit.config.model import Config


def apply_run_overrides(
    cfg: Config | None,
    *,
    source: str | None = None,
    feed_name: str = "main",
    db: Path | None = None,
    device_id: str | None = None,
    model: str | None = None,
    min_face_px: int | None = None,
    fps: float | None = None,
    loop: bool | None = None,
    pace: bool | None = None,
) -> Config:
    """Merge `camaudit run` options into a config (or build one from them alone).

    --source replaces the feeds with one feed; --db puts the data dir next to it.
    The result is validated again, so an option gets the same checks as the file.
    """
    data: dict[str, Any] = cfg.model_dump() if cfg is not None else {}
    data.setdefault("device", {})
    data.setdefault("detector", {})
    feed_options = {k: v for k, v in (("fps", fps), ("loop", loop), ("pace", pace)) if v is not None}
    if source is not None:
        data["feeds"] = {feed_name: {"source": source, **feed_options}}
        data["notices"] = {
            nid: n for nid, n in data.get("notices", {}).items() if feed_name in n.get("covers", [])
        }
    else:
        for feed in data.get("feeds", {}).values():
            feed.update(feed_options)
    if db is not None:
        data["device"]["data_dir"] = db.parent
    if device_id is not None:
        data["device"]["id"] = device_id
    if model is not None:
        data["detector"]["model"] = model
    if min_face_px is not None:
        data["detector"]["min_face_px"] = min_face_px
    from pydantic import ValidationError

    from camaudit.config.loader import format_validation_error
    from camaudit.errors import ConfigError

    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "command line", {})) from None
