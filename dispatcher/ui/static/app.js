// Warren's dashboard: refreshes the parts of a page marked data-live every few seconds,
// unless the reader is busy with them (a field focused, a <details> open) or the tab is
// hidden. The page works without it; this only keeps it current.
(function () {
  "use strict";
  var every = 3000;
  var state = document.getElementById("live-state");
  function busy(el) {
    return el.contains(document.activeElement) && document.activeElement !== document.body ||
      el.querySelector("details[open]") !== null;
  }
  function refresh() {
    var live = document.querySelectorAll("[data-live]");
    if (live.length === 0 || document.hidden) { return schedule(); }
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        live.forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          if (fresh && !busy(el)) { el.replaceWith(document.importNode(fresh, true)); }
        });
        if (state) { state.textContent = "live · " + new Date().toLocaleTimeString(); state.className = "live-state"; }
      })
      .catch(function (e) {
        if (state) { state.textContent = "not refreshing: " + e.message; state.className = "live-state stale"; }
      })
      .finally(schedule);
  }
  function schedule() { setTimeout(refresh, every); }
  schedule();
})();
