"""`capture:` section: how detections become tracks and captures."""

from __future__ import annotations

from pydantic import Field

from camaudit.config.base import Section


class CaptureConfig(Section):
    idle_s: float = Field(default=3.0, gt=0, description="A capture ends this long after its last track.")
    update_s: float = Field(default=10.0, gt=0, description="At most one capture.update per this many seconds.")
    track_iou: float = Field(default=0.3, gt=0, lt=1, description="Box overlap that continues a track.")
    track_max_age_s: float = Field(default=1.0, gt=0, description="A track unseen this long has ended.")
    track_confirm_score: float = Field(default=0.75, ge=0, le=1, description="A track counts only once one of its detections scored this high (weak look-alikes such as hands never do).")
    track_min_hits: int = Field(default=2, ge=1, description="Detections before a track counts (filters one-frame blips).")
    track_relink_s: float = Field(default=3.0, ge=0, description="A track lost up to this many seconds is re-linked when position, size and motion agree (0: never); capped at idle_s, so a capture never closes on a person still to be re-linked.")
    scene_cut: float = Field(default=22.0, gt=0, description="A scene cut (every track ends) when the motion thumbnail's mean absolute difference from the previous frame exceeds this (grey levels 0-255; measured: cuts 27.7-30.3, motion and damaged frames <= 18.0 on the shared clips).")
    drop_stacked: bool = Field(default=True, description="Drop a face box nested in or stacked on a better-scoring one in the same frame.")
