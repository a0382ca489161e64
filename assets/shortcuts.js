// Keyboard shortcuts on the incident list: j/k move, o or Enter opens, a acknowledges, r resolves, / searches,
// ? shows the keys. Done in the page (clicking the row's own buttons), so a key costs no round trip until it
// acts, and typing in a field is never taken for a shortcut.
(function () {
  let index = -1;
  function rows() { return Array.from(document.querySelectorAll("[data-incident-row]")); }
  function focus(next) {
    const all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, next));
    all.forEach((row, i) => row.classList.toggle("kbd-focus", i === index));
    all[index].scrollIntoView({ block: "nearest" });
  }
  function current() { const all = rows(); return index >= 0 && index < all.length ? all[index] : null; }
  function click(selector) { const row = current(); const el = row && row.querySelector(selector); if (el) el.click(); }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if (document.querySelector("[role=dialog]")) return;
    switch (event.key) {
      case "j": focus(index + 1); break;
      case "k": focus(index - 1); break;
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
