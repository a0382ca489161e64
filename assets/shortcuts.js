// Keyboard shortcuts on the incident list: j/k move, o or Enter opens, a acknowledges, r resolves, / searches,
// ? shows the keys. Done in the page (clicking the row's own buttons), so a key costs no round trip until it
// acts, and typing in a field is never taken for a shortcut. The focus follows an incident, not a position:
// live updates reorder the list, and `a` must act on the row the person is looking at.
(function () {
  let focused = null;  // the focused row's incident id
  function rows() { return Array.from(document.querySelectorAll("[data-incident-row]")); }
  function current() {
    return focused === null ? null : document.querySelector(`[data-incident-row="${focused}"]`);
  }
  function paint() {
    rows().forEach((row) => row.classList.toggle("kbd-focus", row.dataset.incidentRow === focused));
  }
  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(current());
    const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, at + step));
    focused = all[next].dataset.incidentRow;
    paint();
    all[next].scrollIntoView({ block: "nearest" });
  }
  function click(selector) { const row = current(); const el = row && row.querySelector(selector); if (el) el.click(); }
  // React re-renders rows (class names included) on every live update: paint the focus again.
  new MutationObserver(() => { if (focused !== null && current() && !current().classList.contains("kbd-focus")) paint(); })
    .observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if (document.querySelector("[role=dialog]")) return;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": case "Enter": click(".incident-open"); break;
      case "a": click("[data-action=ack]"); break;
      case "r": click("[data-action=resolve]"); break;
      case "/": { const box = document.getElementById("incident-search"); if (box) { box.focus(); } break; }
      case "?": { const help = document.getElementById("shortcuts-open"); if (help) help.click(); break; }
      default: return;
    }
    event.preventDefault();
  });
})();
