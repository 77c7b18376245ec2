// Keyboard review in the gallery: no inline script anywhere (the Content-Security-Policy forbids it).
// Arrows move between pictures, Space reveals or hides the one in focus, X selects it, S selects its whole
// near-duplicate stack, 0-5 categorise the selection (or the focused picture when nothing is selected).
(function () {
  "use strict";

  function tiles() { return Array.prototype.slice.call(document.querySelectorAll("#grid .tile")); }
  function focused() { var el = document.activeElement; return el && el.classList && el.classList.contains("tile") ? el : null; }
  function checkbox(tile) { return tile.querySelector("input[type=checkbox][name=file_ids]"); }

  function move(step) {
    var all = tiles(); if (!all.length) { return; }
    var index = all.indexOf(focused());
    var next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    next.focus();
  }

  function columns() {
    var all = tiles(); if (all.length < 2) { return 1; }
    var top = all[0].offsetTop, n = 0;
    for (var i = 0; i < all.length && all[i].offsetTop === top; i++) { n++; }
    return Math.max(1, n);
  }

  function toggleSelect(tile, value) {
    var box = checkbox(tile); if (!box) { return; }
    box.checked = value === undefined ? !box.checked : value;
    tile.classList.toggle("selected", box.checked);
  }

  function selected() {
    return tiles().filter(function (t) { var b = checkbox(t); return b && b.checked; });
  }

  function categorise(key) {
    var chosen = selected();
    if (!chosen.length && focused()) { chosen = [focused()]; }
    if (!chosen.length) { return; }
    var form = document.getElementById("decide");
    var url = form.getAttribute("hx-post");
    var values = { key: key, file_ids: chosen.map(function (t) { return t.dataset.file; }) };
    var keep = focused() ? focused().id : null;
    htmx.ajax("POST", url, { source: form, values: values, swap: "none" }).then(function () {
      if (keep && document.getElementById(keep)) { document.getElementById(keep).focus(); }
    });
  }

  function revealOrHide(tile) {
    var button = tile.querySelector("button.reveal, button.hide");
    if (button) { button.click(); }
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box && box.name === "file_ids") { var tile = box.closest(".tile"); if (tile) { tile.classList.toggle("selected", box.checked); } }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    // A swapped tile keeps focus and selection so that the reviewer's place is not lost.
    var old = event.detail.target;
    if (old && old.classList && old.classList.contains("tile")) {
      var tile = document.getElementById(old.id);
      if (tile) { tile.focus(); }
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!document.getElementById("grid")) { return; }
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) { return; }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var rtl = document.documentElement.dir === "rtl";
    var tile = focused();
    switch (event.key) {
      case "ArrowRight": move(rtl ? -1 : 1); break;
      case "ArrowLeft": move(rtl ? 1 : -1); break;
      case "ArrowDown": move(columns()); break;
      case "ArrowUp": move(-columns()); break;
      case " ": if (tile) { revealOrHide(tile); } break;
      case "x": case "X": if (tile) { toggleSelect(tile); } break;
      case "s": case "S":
        if (tile && tile.dataset.stack) {
          tiles().forEach(function (t) { if (t.dataset.stack === tile.dataset.stack) { toggleSelect(t, true); } });
        }
        break;
      default:
        if (/^[0-5]$/.test(event.key)) { categorise(event.key); break; }
        return;
    }
    event.preventDefault();
  });
})();
