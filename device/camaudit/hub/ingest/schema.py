"""Typed schema of every message the collector accepts (pydantic, strict), per event type.

The collector validates a message here before it derives anything from it (columns,
alerts, witness statements, web pages): wrong types, numbers out of range, over-long
strings and duplicate JSON keys are rejected with a reason code and the field's path, and
nothing downstream sees a value the schema did not allow.

Reason codes: `bad_json` (not UTF-8 JSON), `duplicate_key` (a JSON object names a key
twice: two parsers could read two different records from one signed text), `bad_schema`
(missing field, wrong type, unknown event type), `out_of_range` (a number or length past
its limit, `ts` outside 2020-01-01 .. now + 1 day).

Bodies keep fields the hub does not read (extra="allow"): the signature covers them and
the stored text is the signed text, but only the fields below are trusted for display.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camaudit.core.record import EVENT_TYPES, SCHEMA_VERSION

TS_MIN_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
DAY_MS = 86_400_000
MAX_INT = 2**53  # past this a JSON number is not an exact integer in most readers
MAX_TEXT = 1000  # alert text
MAX_ID = 128  # capture ids, feed names, reasons, notice ids
MAX_LIST = 64  # reasons per capture / alert
MAX_DEPTH = 16  # nesting of JSON containers in one message

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Ident = Annotated[str, Field(max_length=MAX_ID)]

_OUT_OF_RANGE = frozenset({
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_too_long",
    "too_long", "too_short", "string_too_short",
})


class Rejected(ValueError):
    """A message fails the schema: `reason` is its reject code, the text names the field."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class Envelope(_Strict):
    """The signed record around every body (core.record.Event, schema version 1). Fields
    a later version adds ride along (covered by the hash), as core.record allows."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    v: Literal[1]
    device: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/+#\x00]+$")]
    seq: Annotated[int, Field(ge=1, le=MAX_INT)]
    ts: int  # range checked against the hub's clock in validate_record
    type: str
    feed: Annotated[str, Field(max_length=MAX_ID)] | None
    body: dict[str, Any]
    prev: Hex64
    hash: Hex64
    sig: Annotated[str, Field(max_length=128)]


VerdictName = Literal["consented", "unconsented"]  # core.policy.VerdictName: the closed set


class VerdictChange(_Body):
    ts: Count | None = None
    verdict: VerdictName | None = None
    reasons: Annotated[list[Ident], Field(max_length=MAX_LIST)] = []
    basis: Annotated[str, Field(max_length=256)] | None = None


class CaptureBody(_Body):
    capture: Ident
    start: Count | None = None
    end: Count | None = None
    frames: Count | None = None
    max_faces: Count | None = None
    distinct_tracks: Count | None = None
    identifiable_tracks: Count | None = None
    verdict: VerdictName | None = None
    reasons: Annotated[list[Ident], Field(max_length=MAX_LIST)] = []
    basis: Annotated[str, Field(max_length=256)] | None = None
    verdict_changes: Annotated[list[VerdictChange], Field(max_length=4096)] = []


Px = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
Box = Annotated[list[Px], Field(min_length=4, max_length=5)]


class TrackPeak(_Body):
    frame: Count
    box: Box
    score: Annotated[float, Field(ge=0, le=1)] | int


class TrackBody(_Body):
    """A `track.end` record (docs/tracks.md); `criteria` values ride along unchecked."""

    capture: Ident | None = None
    track: Count
    first_frame: Px
    last_frame: Px
    first_ts: Count
    last_ts: Count
    frame_size: Annotated[list[Count], Field(min_length=2, max_length=2)]
    boxes: Annotated[list[Box], Field(max_length=2048)]
    peak: TrackPeak
    identifiable: bool
    criteria: dict[str, Any]
    why_not: Annotated[list[Ident], Field(max_length=MAX_LIST)] = []


class AlertBody(_Body):
    text: Annotated[str, Field(max_length=MAX_TEXT)]
    capture: Ident | None = None
    reasons: Annotated[list[Ident], Field(max_length=MAX_LIST)] = []
    ref_seq: Count | None = None


class CheckpointBody(_Body):
    seq: Annotated[int, Field(ge=0, le=MAX_INT)]
    hash: Hex64
    sig: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


Measure = Annotated[float, Field(ge=-1e6, le=1e6)] | Annotated[int, Field(ge=-10**6, le=10**6)] | None


class CameraHealthBody(_Body):
    """camera.covered / camera.moved / camera.blurred / camera.restored (core.camera_health)."""

    condition: Literal["covered", "moved", "blurred"]
    start: Count
    end: Count | None = None
    duration_ms: Count | None = None
    values: Annotated[dict[Annotated[str, Field(max_length=32)], Measure], Field(max_length=16)] = {}
    worst: Annotated[dict[Annotated[str, Field(max_length=32)], Measure], Field(max_length=16)] = {}


class CameraReferenceBody(_Body):
    reason: Annotated[str, Field(max_length=32)]
    sha256: Hex64


class ClockSyncedBody(_Body):  # issue 21: the device's clock became synchronised
    how: Annotated[str, Field(max_length=MAX_TEXT)]
    unsynced_ms: Count
    clock_step_ms: Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]


NoticeStr = Annotated[str, Field(max_length=8 * MAX_TEXT)]
Lang = Annotated[str, Field(min_length=1, max_length=16)]


class NoticeTextBody(_Body):
    """One translation of a notice's texts (config.notices.NoticeText)."""

    controller: NoticeStr | None = None
    purposes: Annotated[list[NoticeStr], Field(max_length=MAX_LIST)] | None = None
    rights: NoticeStr | None = None
    impacts: NoticeStr | None = None
    legitimate_interest: NoticeStr | None = None


class NoticeRegisteredBody(_Body):
    """`notice.registered` (notices/registration.py): the printed texts have the shapes the
    config gives them, so every reader (report, letter, hub page) can rely on them."""

    notice: Ident
    controller: NoticeStr | None = None
    purposes: Annotated[list[NoticeStr], Field(max_length=MAX_LIST)] | None = None
    rights: NoticeStr | None = None
    contact: NoticeStr | None = None
    full_notice: NoticeStr | None = None
    impacts: NoticeStr | None = None
    legitimate_interest: NoticeStr | None = None
    dpo: NoticeStr | None = None
    languages: Annotated[list[Lang], Field(max_length=MAX_LIST)] | None = None
    translations: Annotated[dict[Lang, NoticeTextBody], Field(max_length=MAX_LIST)] = {}
    covers: Annotated[list[Ident], Field(max_length=MAX_LIST)] = []


class AnyBody(_Body):
    pass


BODY_MODELS: dict[str, type[_Body]] = {
    "capture.start": CaptureBody,
    "capture.update": CaptureBody,
    "capture.end": CaptureBody,
    "track.end": TrackBody,
    "alert": AlertBody,
    "checkpoint": CheckpointBody,
    "camera.covered": CameraHealthBody,
    "camera.moved": CameraHealthBody,
    "camera.blurred": CameraHealthBody,
    "camera.restored": CameraHealthBody,
    "camera.reference": CameraReferenceBody,
    "clock.synced": ClockSyncedBody,
    "notice.registered": NoticeRegisteredBody,
}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise Rejected("duplicate_key", f"key {dup[:40]!r} appears twice in one object")
    return d


def _depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def parse_json(payload: bytes) -> tuple[Any, str]:
    """(object, text) of a UTF-8 JSON payload; duplicate keys are refused."""
    try:
        text = payload.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except Rejected:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Rejected("bad_json", str(exc)[:120] or type(exc).__name__) from None
    # nesting can only exceed MAX_DEPTH with more containers than that (counted in C first)
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise Rejected("out_of_range", f"JSON nested deeper than {MAX_DEPTH}")
    return obj, text


def _explain(exc: ValidationError, where: str) -> Rejected:
    err = exc.errors(include_url=False)[0]
    path = ".".join(str(p) for p in err["loc"]) or "record"
    reason = "out_of_range" if err["type"] in _OUT_OF_RANGE else "bad_schema"
    return Rejected(reason, f"{where}{path}: {err['msg']}")


def validate_record(obj: Any, now_ms: int) -> Envelope:
    """The envelope and its type's body checked; raises Rejected (reason, field) otherwise."""
    if not isinstance(obj, dict):
        raise Rejected("bad_schema", "record is not a JSON object")
    try:
        env = Envelope.model_validate(obj)
    except ValidationError as exc:
        raise _explain(exc, "") from None
    where = f"{env.device} seq {env.seq}: "
    if env.v != SCHEMA_VERSION or env.type not in EVENT_TYPES:
        raise Rejected("bad_schema", f"{where}unknown event type {env.type[:40]!r}")
    if not TS_MIN_MS <= env.ts <= now_ms + DAY_MS:
        raise Rejected("out_of_range", f"{where}ts {env.ts} outside 2020-01-01 .. now + 1 day")
    try:
        BODY_MODELS.get(env.type, AnyBody).model_validate(env.body)
    except ValidationError as exc:
        raise _explain(exc, where + "body.") from None
    return env
