// Live alerts: server-sent events from /alerts/stream, newest first. No dependencies.
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  var state = document.getElementById("live-state");
  if (!list || !window.EventSource) { return; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  var es = new EventSource("/alerts/stream");
  es.onopen = function () { state.textContent = "live"; state.className = "live-state on"; };
  es.onerror = function () { state.textContent = "reconnecting…"; state.className = "live-state off"; };
  es.addEventListener("alert", function (e) {
    var a = JSON.parse(e.data);
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "new";
    li.dataset.device = a.device;
    li.dataset.seq = a.seq;
    var t = document.createElement("time"); t.textContent = fmt(a.ts);
    var b = document.createElement("b"); b.textContent = a.device;
    li.appendChild(t); li.appendChild(document.createTextNode(" "));
    li.appendChild(b);
    li.appendChild(document.createTextNode((a.feed ? " / " + a.feed : "") + ": " + a.text + " "));
    if (a.reasons && a.reasons.length) {
      var r = document.createElement("span"); r.className = "reasons";
      r.textContent = "(" + a.reasons.join(", ") + ")"; li.appendChild(r);
    }
    list.insertBefore(li, list.firstChild);
  });
})();
