// Every table of a page scrolls inside its own box, never the page: wrap each in a region
// that the keyboard can reach (focus it, then scroll with the arrow keys).
(function () {
  "use strict";
  document.querySelectorAll("main table").forEach(function (table) {
    var parent = table.parentElement;
    var overflow = getComputedStyle(parent).overflowX;
    var wrap = parent;
    if (overflow !== "auto" && overflow !== "scroll") {
      wrap = document.createElement("div");
      wrap.className = "table-wrap";
      parent.insertBefore(wrap, table);
      wrap.appendChild(table);
    }  // else already in a box of its own (the calendar, a chart's numbers): make it reachable
    if (wrap.hasAttribute("tabindex")) {
      return;
    }
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    var caption = table.querySelector("caption");
    var heading = table.previousElementSibling;
    var name = caption ? caption.textContent : (heading && /^H[1-6]$/.test(heading.tagName)
      ? heading.textContent : document.title);
    wrap.setAttribute("aria-label", name.trim());
  });
})();
