"""`/export`: the evidence pack of a span, signed by the hub (hub/evidence/pack.py);
`/evidence/DEVICE/SHA.jpg`: one stored evidence frame, the hub's own JPEG of its pixelation of the
device's frame (hub/evidence/safe.py), never the device's bytes."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from camaudit.errors import CamauditError
from camaudit.hub.custody import web as custody
from camaudit.hub.evidence.inbox import SHA
from camaudit.hub.web.site import MAX_ID, login_redirect, site_of

log = logging.getLogger(__name__)

router = APIRouter()


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64] or "pack"


@router.get("/evidence/{device}/{name}")
def evidence_frame(request: Request, device: str, name: str, capture: str = "") -> Any:
    """One stored evidence frame of `device`'s `capture`: the bytes the hub stored (its re-encoding)."""
    site = site_of(request)
    if not site.authed(request):
        return JSONResponse({"error": "login required"}, status_code=401)
    sha = name.removesuffix(".jpg")
    data = None
    if site.evidence is not None and SHA.fullmatch(sha) and len(device) + len(capture) <= MAX_ID:
        data = site.evidence.data(device, capture, sha)
    if data is None:
        return JSONResponse({"error": "no such frame"}, status_code=404)
    custody.note(request, "evidence.view", device=device, capture=capture, sha=sha)
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})


@router.get("/export")
def export(request: Request) -> Any:  # sync: FastAPI runs it in its thread pool
    site = site_of(request)
    if not site.authed(request):
        return login_redirect()
    store, q = site.store, request.query_params
    device = q.get("device") or ""

    def refuse(msg: str, status: int) -> Any:
        log.info("web export refused: %s", msg)
        return site.page(request, "export_error.html", {"error": msg}, status_code=status)

    if site.hub_key is None:
        return refuse("this hub has no signing key configured for exports", 404)
    if not device or len(device) > MAX_ID or store.public_key(device) is None:
        return refuse(f"choose an enrolled device (got {device[:64]!r})", 400)
    try:
        since_ms, until_ms = site.clock.parse(q.get("since")), site.clock.parse(q.get("until"), end=True)
    except ValueError as exc:
        return refuse(str(exc), 400)
    feed = q.get("feed") or None
    from camaudit.hub.evidence.pack import export_hub_pack

    tmp = Path(tempfile.mkdtemp(prefix="camaudit-export-"))
    out = tmp / f"camaudit-{_safe_name(device)}-{time.strftime('%Y%m%d-%H%M%S')}.zip"
    try:
        summary = export_hub_pack(store, site.hub_key, device, out, since_ms=since_ms,
                                  until_ms=until_ms, feed=feed, now_ms=int(time.time() * 1000),
                                  custody=custody.export_by(request))
    except CamauditError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return refuse(str(exc).splitlines()[0], 404 if "no record" in str(exc) else 409)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("web export of %s: %s", device, summary.summary())
    return FileResponse(out, media_type="application/zip", filename=out.name,
                        background=BackgroundTask(shutil.rmtree, tmp, True))
