"""report.html: one self-contained page (charts as inline SVG, evidence frames inline)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from jinja2 import Environment
from markupsafe import Markup

from camaudit.report import words
from camaudit.report.camera_health import period_text
from camaudit.report.charts import bar_chart, timeline_chart, to_svg
from camaudit.report.model import Report

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.facts th{width:14rem}.chart{width:100%;max-width:40rem;height:auto}
.capture{border:1px solid #ccc;padding:.5rem 1rem;margin:1rem 0;break-inside:avoid}
.unconsented{color:#c62828}.consented{color:#2e7d32}img.evidence{max-width:100%;height:auto}
code{word-break:break-all}
p,td,th{overflow-wrap:anywhere}svg{max-width:100%;height:auto}
@media (max-width:40rem){body{padding:0 .5rem}.facts th{width:auto}
table,tbody,tr,th,td{display:block;width:auto}th{border-bottom:0}td+td,th+td{border-top:0}
tr:first-child th{border-top:1px solid #ccc}.capture{padding:.5rem}}
</style></head><body>
<h1>{{ title }}</h1>
<table class="facts">{% for k, v in facts %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>Summary</h2>
{% for line in summary %}<p>{{ line }}</p>{% endfor %}
{{ per_hour }}
{{ per_day }}
<h2 id="limits">{{ limits_title }}</h2>
{% for line in limits %}<p>{{ line }}</p>{% endfor %}
<h2>Notices in force</h2>
{% if not notices %}<p>No notice.registered record is in this pack: the notices' texts were journalled before its first record (export an earlier span to include them), or no notice was registered.</p>{% endif %}
{% for n in notices %}<h3>Notice {{ n.notice }}, {{ "withdrawn" if n.withdrawn else "as registered" }} {{ n.when }}</h3>
<table>{% for k, v in n.fields %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>{% endfor %}
<h2>Notice timeline</h2>
{% if timeline %}{{ timeline }}
<table><tr><th>notice</th><th>state</th><th>from</th><th>to</th></tr>
{% for s in segments %}<tr><td>{{ s.notice }}</td><td>{{ s.state }}</td><td>{{ s.start }}</td><td>{{ s.end }}</td></tr>{% endfor %}</table>
{% else %}<p>No notice is registered or watched in these records.</p>{% endif %}
<h2>Camera health</h2>
{% if not camera_health %}<p>No camera was journalled covered, moved or blurred in these records.</p>{% endif %}
{% for line in camera_health %}<p>{{ line }}</p>{% endfor %}
<h2>Captures</h2>
{% if not captures %}<p>No capture in this span.</p>{% endif %}
{% for c in captures %}<div class="capture" id="{{ c.id }}">
<h3>Capture {{ c.id }} on feed {{ c.feed }}: <span class="{{ c.verdict }}">{{ c.verdict_text }}</span></h3>
<table>
<tr><th>start</th><td>{{ c.start }}</td></tr><tr><th>end</th><td>{{ c.end }}</td></tr>
<tr><th>faces</th><td>at most {{ c.max_faces }} at once; {{ c.tracks }} distinct, {{ c.identifiable }} identifiable (face at least the configured minimum height)</td></tr>
<tr><th>notice state at start</th><td>{{ c.notice }}</td></tr>
<tr><th>record</th><td>seq {{ c.seq }}</td></tr>
<tr><th>evidence frames</th><td>{% if not c.evidence %}none kept{% endif %}{% for e in c.evidence %}<div><code>{{ e.text }}</code>{% if e.src %}<br><img class="evidence" alt="blurred evidence frame {{ e.digest }}" src="{{ e.src }}">{% endif %}</div>{% endfor %}</td></tr>
</table></div>{% endfor %}
<h2>How to verify this pack</h2>
{% for line in verify %}<p>{{ line }}</p>{% endfor %}
</body></html>
"""

_ENV = Environment(autoescape=True, keep_trailing_newline=True)


def render_html(r: Report, frames: Mapping[str, bytes]) -> bytes:
    c = r.clock
    notices = [
        {
            "notice": n.notice,
            "when": c.both(n.since) + f" (seq {n.seq})",
            "withdrawn": bool(n.body.get("withdrawn")),
            "fields": n.rows(words.NOTICE_FIELDS),
        }
        for n in r.notices
    ]
    caps = []
    for item in r.captures:
        row = item.row
        ev = []
        for d in item.evidence_digests():
            src = ""
            if d in frames:
                src = "data:image/jpeg;base64," + base64.b64encode(frames[d]).decode("ascii")
            ev.append({"digest": d, "text": words.evidence_text(r, d), "src": src})
        caps.append(
            {
                "id": row.capture,
                "feed": row.feed or "-",
                "verdict": item.verdict,
                "verdict_text": words.verdict_text(item),
                "start": c.both(row.start),
                "end": c.both(row.end) if row.state == "closed" else "still open",
                "max_faces": row.max_faces,
                "tracks": row.distinct_tracks,
                "identifiable": row.identifiable_tracks,
                "notice": words.notice_state_text(item, r),
                "seq": row.seq,
                "evidence": ev,
            }
        )
    timeline = ""
    if r.timeline:
        shapes = timeline_chart(r.timeline, r.first_time, r.last_time, c.both(r.first_time), c.both(r.last_time))
        timeline = to_svg(shapes, "notice timeline")
    page = _ENV.from_string(_TEMPLATE).render(
        title=words.title(r),
        facts=words.facts(r),
        summary=words.summary(r),
        per_hour=Markup(to_svg(bar_chart(r.per_hour), r.per_hour.title)),
        per_day=Markup(to_svg(bar_chart(r.per_day), r.per_day.title)),
        notices=notices,
        timeline=Markup(timeline),
        segments=[
            {"notice": s.notice, "state": s.state, "start": c.both(s.start), "end": c.both(s.end)}
            for s in r.timeline
        ],
        captures=caps,
        camera_health=[period_text(p, c.both) for p in r.camera_health],
        verify=words.how_to_verify(r),
        limits_title=words.LIMITS_TITLE,
        limits=words.what_it_shows(r),
    )
    return page.encode("utf-8")
