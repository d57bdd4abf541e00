// Live page: alerts over server-sent events (/alerts/stream), newest first, each linking to
// its capture; the devices table refreshed from /api/devices every few seconds. Times in the
// venue's zone (body data-tz), zone named. No dependencies, no inline script (strict CSP).
(function () {
  "use strict";
  var zone = document.body.getAttribute("data-tz") || "UTC";
  var fmtParts;
  try {
    fmtParts = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
  } catch (e) { fmtParts = null; }
  function fmt(ms) {
    if (ms === null || ms === undefined) { return "never"; }
    if (!fmtParts) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }
    var p = {};
    fmtParts.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second +
      " " + p.timeZoneName;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  var REASONS = {
    no_notice: "no notice registered for this camera",
    notice_missing: "notice not seen posted",
    outside_hours: "outside the notice's hours",
    privacy_zone: "face in a privacy zone"
  };

  // ---- alerts -------------------------------------------------------------------------
  var list = document.getElementById("alerts");
  var state = document.getElementById("live-state");
  if (list && window.EventSource) {
    var es = new EventSource("/alerts/stream");
    es.onopen = function () { state.textContent = "live"; state.className = "live-state on"; };
    es.onerror = function () { state.textContent = "reconnecting…"; state.className = "live-state off"; };
    es.addEventListener("alert", function (e) {
      var a = JSON.parse(e.data);
      var empty = list.querySelector(".empty");
      if (empty) { empty.remove(); }
      var li = el("li", "new");
      li.dataset.device = a.device;
      li.dataset.seq = a.seq;
      li.appendChild(el("time", "", fmt(a.ts)));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("b", "", a.device));
      li.appendChild(document.createTextNode((a.feed ? " / " + a.feed : "") + ": " + a.text + " "));
      if (a.reasons && a.reasons.length) {
        li.appendChild(el("span", "reasons", "(" + a.reasons.map(function (r) {
          return REASONS[r] || String(r).replace(/_/g, " ");
        }).join("; ") + ")"));
      }
      if (a.capture) {
        var link = el("a", "capture-link", "capture " + a.capture + " →");
        link.href = "/capture/" + encodeURIComponent(a.device) + "/" + encodeURIComponent(a.capture);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(link);
      }
      if (a.steps && a.steps.length) {
        var next = el("div", "next-steps");
        next.appendChild(el("b", "", "What to do next: "));
        a.steps.forEach(function (s) { next.appendChild(el("span", "step", s)); });
        if (a.tell) { next.appendChild(el("span", "tell", a.tell)); }
        next.appendChild(el("span", "hint", "Reload the page to acknowledge it."));
        li.appendChild(next);
      }
      list.insertBefore(li, list.firstChild);
    });
  }

  // ---- devices ------------------------------------------------------------------------
  var table = document.getElementById("devices");
  var devState = document.getElementById("devices-state");
  function cell(tr, cls) { return tr.querySelector("td." + cls); }
  function render(devs) {
    var rows = table ? table.querySelectorAll("tbody tr") : [];
    if (devs.length !== rows.length) { window.location.reload(); return; }  // enrolled or removed
    devs.forEach(function (d) {
      var tr = null;
      rows.forEach(function (r) { if (r.dataset.device === d.device) { tr = r; } });
      if (!tr) { window.location.reload(); return; }
      var st = cell(tr, "state");
      st.textContent = d.online ? "online" : "offline";
      st.className = "state " + (d.online ? "online" : "offline");
      cell(tr, "last-seen").textContent = fmt(d.last_seen_ms);
      cell(tr, "stored").textContent = d.stored_seq;
      var lag = cell(tr, "lag");
      lag.textContent = d.lag;
      lag.className = "lag" + (d.lag ? " lagging" : "");
      var nc = cell(tr, "notices");
      nc.textContent = "";
      if (!d.notices.length) { nc.appendChild(el("span", "none", "none reported")); }
      d.notices.forEach(function (n) {
        var s = el("span", "notice " + String(n.state).toLowerCase(), n.notice + ": " + n.state);
        s.dataset.notice = n.notice;
        s.title = n.words + " since " + fmt(n.since_ms);
        nc.appendChild(s);
        nc.appendChild(document.createTextNode(" "));
      });
    });
  }
  function poll() {
    fetch("/api/devices", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (devs) {
        render(devs);
        devState.textContent = "updated " + fmt(Date.now()).slice(11);
        devState.className = "live-state on";
      })
      .catch(function () { devState.textContent = "not updating"; devState.className = "live-state off"; });
  }
  if (devState && window.fetch) {
    poll();
    setInterval(poll, Number(document.body.getAttribute("data-poll-ms")) || 3000);
  }
})();
