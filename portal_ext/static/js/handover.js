// The live progress of a handover or a transfer page (no build step, no library): while the
// batch runs, polls the progress endpoint and puts in the progress block the server rendered
// (status in words, bar, figures; items left alone counted apart). When the run ends, fetches
// the page once and swaps its content (state, report, the way back) without reloading. A
// handover waiting for its absence is watched less often and shows its run once it starts.
(function () {
  "use strict";
  var RUNNING = { applying: true, restoring: true };

  function box() { return document.getElementById("progress"); }

  function swapPage(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var next = fresh.getElementById("batch-page");
        var current = document.getElementById("batch-page");
        if (next && current) {
          current.replaceWith(document.importNode(next, true));
          document.title = fresh.title;
        }
        start();
      });
  }

  function poll(url, pageUrl, delay) {
    setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (p) {
          if (!p) { poll(url, pageUrl, 3000); return; }
          var current = box();
          if (current && p.html) {
            var holder = document.createElement("div");
            holder.innerHTML = p.html;
            if (holder.firstElementChild) { current.replaceWith(holder.firstElementChild); }
          }
          if (RUNNING[p.state]) { poll(url, pageUrl, 1000); } else { swapPage(pageUrl); }
        })
        .catch(function () { poll(url, pageUrl, 3000); });
    }, delay);
  }

  function watchScheduled(waiting) {
    var url = waiting.getAttribute("data-progress-url");
    var pageUrl = waiting.getAttribute("data-page-url");
    setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (p) {
          if (p && p.state !== "scheduled") { swapPage(pageUrl); } else { watchScheduled(waiting); }
        })
        .catch(function () { watchScheduled(waiting); });
    }, 15000);
  }

  function start() {
    var waiting = document.getElementById("scheduled");
    if (waiting && waiting.getAttribute("data-progress-url")) { watchScheduled(waiting); }
    var current = box();
    if (!current || !RUNNING[current.getAttribute("data-state")]) { return; }
    poll(current.getAttribute("data-progress-url"), current.getAttribute("data-page-url"), 500);
  }

  start();
}());
