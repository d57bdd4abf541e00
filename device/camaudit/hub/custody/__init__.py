"""The hub's custody log (issue 24): every login, capture page view, evidence image view,
export, subject check, alert acknowledgement and fork resolution, appended to a
hash-chained, hub-signed log in the hub store (log.py; the pure chain is trust/custody.py).

Hooks: from a web route `custody.note(request, what, **detail)` (web.py); from a command
`CustodyLog(store.sql, key).record(who, what, where, detail)`; alert acknowledgement
`acknowledged(log, who, where, device, seq)`. Also here: time-stamp tokens over the
checkpoints the hub receives (stamps.py) and the hub's pruning (prune.py)."""

from camaudit.hub.custody.log import CustodyLog, acknowledged, cli_who
from camaudit.hub.custody.web import note

__all__ = ["CustodyLog", "acknowledged", "cli_who", "note"]
