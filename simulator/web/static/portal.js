// The portal's pages refresh their unread counters and the inbox every few seconds.
(function () {
  const holder = document.querySelector("[data-unread-source]");
  if (!holder) return;
  const url = holder.dataset.unreadSource;
  async function refresh() {
    try {
      const counts = await (await fetch(url, {cache: "no-store"})).json();
      document.querySelectorAll("[data-unread]").forEach(function (badge) {
        const n = counts[badge.dataset.unread] || 0;
        badge.textContent = n;
        badge.classList.toggle("zero", !n);
      });
    } catch (e) { /* the portal may be restarting; try again later */ }
  }
  setInterval(refresh, 3000);
})();
(function () {
  const list = document.getElementById("inbox");
  if (!list) return;
  const badge = document.getElementById("unread");
  const known = new Set(Array.from(list.querySelectorAll("li[data-id]"), li => li.dataset.id));
  const baseTitle = document.title.replace(/^\(\d+\) /, "");
  function text(value) { const span = document.createElement("span"); span.textContent = value; return span.innerHTML; }
  function render(item) {
    const meta = ['<span class="chip">' + text(item.kind_label) + '</span>',
                  '<span title="' + text(item.created_at) + '">' + text(item.when + " · " + item.ago) + '</span>'];
    if (item.from) meta.push("<span>from " + text(item.from) + "</span>");
    if (item.url) meta.push('<a href="' + text(item.url) + '">open ' + text((item.entity_type || "").toLowerCase().replace("_", " ")) + " #" + item.entity_id + "</a>");
    const li = document.createElement("li");
    li.dataset.id = item.id;
    li.className = (item.is_read ? "" : "unread") + (known.has(String(item.id)) ? "" : " fresh");
    li.innerHTML = '<div class="icon k-' + text(item.kind) + '">' + text(item.icon) + '</div><div class="body"><div>' +
                   item.html + '</div><div class="meta">' + meta.join("") + "</div></div>";
    return li;
  }
  async function refresh() {
    try {
      const data = await (await fetch(list.dataset.source, {cache: "no-store"})).json();
      badge.textContent = data.unread;
      badge.classList.toggle("zero", !data.unread);
      document.title = (data.unread ? "(" + data.unread + ") " : "") + baseTitle;
      list.replaceChildren(...(data.items.length ? data.items.map(render) :
        [Object.assign(document.createElement("li"), {innerHTML: '<span class="empty">No notifications yet. They appear here as soon as they arrive.</span>'})]));
      data.items.forEach(item => known.add(String(item.id)));
    } catch (e) { /* the portal may be restarting; try again later */ }
  }
  setInterval(refresh, 3000);
})();
