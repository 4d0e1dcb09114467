// The queue from the keyboard: j / k move between lines, x checks the line, o opens or closes it;
// and the bulk bar's "check the whole page" button (hidden without this script).
// Served by the app itself (script-src 'self'); without it every line still opens on click and every form works.
(function () {
  "use strict";
  var current = -1;

  function lines() {
    return Array.prototype.slice.call(document.querySelectorAll("li.qrow"));
  }

  function typing(target) {
    if (!target || target.isContentEditable) return true;
    var tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "checkbox");
  }

  function focusLine(list, index) {
    current = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (line, i) { line.classList.toggle("current", i === current); });
    var summary = list[current].querySelector("summary");
    if (summary) summary.focus();
    list[current].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var list = lines();
    if (!list.length) return;
    var here = event.target.closest ? event.target.closest("li.qrow") : null;
    if (here) current = list.indexOf(here);  // after a click or Tab, start from where the focus is
    if (event.key === "j") {
      focusLine(list, current + 1);
    } else if (event.key === "k") {
      focusLine(list, current < 0 ? 0 : current - 1);
    } else if (event.key === "x" && current >= 0) {
      var box = list[current].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      labelPageToggle();
    } else if (event.key === "o" && current >= 0) {
      var details = list[current].querySelector("details");
      if (details) details.open = !details.open;
    } else {
      return;
    }
    event.preventDefault();
  });

  var hint = document.getElementById("keys-hint");
  if (hint) hint.hidden = false;

  // One click checks every line of the page (or, when all are checked, none): with the
  // "lowest score" sort, a page of likely chatter is one bulk decision.
  var pageToggle = document.getElementById("check-page");

  function lineBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll("li.qrow input[type=checkbox]"));
  }

  function allChecked(boxes) {
    return boxes.length > 0 && boxes.every(function (box) { return box.checked; });
  }

  function labelPageToggle() {
    if (!pageToggle) return;
    pageToggle.textContent = allChecked(lineBoxes()) ? pageToggle.dataset.uncheck : pageToggle.dataset.check;
  }

  if (pageToggle) {
    pageToggle.hidden = false;
    pageToggle.addEventListener("click", function () {
      var boxes = lineBoxes(), check = !allChecked(boxes);
      boxes.forEach(function (box) { box.checked = check; });
      labelPageToggle();
    });
    document.addEventListener("change", function (event) {
      if (event.target.matches && event.target.matches("li.qrow input[type=checkbox]")) labelPageToggle();
    });
  }
})();
