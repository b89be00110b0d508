// The handover page's live progress: polls the progress endpoint and moves the bar; when the
// phase ends, reloads the page so the report shows the final counts.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var running = { applying: true, restoring: true };
  if (!running[box.getAttribute("data-state")]) { return; }

  function show(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "–" : String(value); }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (p) {
        if (!p) { setTimeout(poll, 2000); return; }
        document.getElementById("progress-bar").value = p.percent;
        show("progress-percent", p.percent);
        show("progress-done", p.done);
        show("progress-total", p.total);
        show("progress-rate", p.rate_per_s);
        show("progress-eta", p.eta_s === null ? null : Math.round(p.eta_s));
        if (running[p.state]) { setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 500);
}());
