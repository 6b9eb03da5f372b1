/* The back office's few keyboard and focus helpers on top of htmx. Everything here only
   makes faster what works without it. */
(function () {
  "use strict";

  // Escape in a row being edited cancels the edit (its Cancel link swaps the row back).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var row = event.target.closest && event.target.closest("tr.editing");
    var cancel = row && row.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  // After a swap: into a row being edited, focus its first field; back to a plain row,
  // focus its Edit link, so the keyboard stays in the row.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.elt;
    if (!target || !target.matches) return;
    var field = target.matches("tr.editing") && target.querySelector("[aria-invalid], [autofocus]");
    if (field) {
      field.focus();
      if (field.select) field.select();
      return;
    }
    var edit = target.matches("tr[data-focus]") && target.querySelector("[data-edit]");
    if (edit) edit.focus();
  });

  // "Tick all on this page": shown only where this script runs.
  function wireSelectAll(root) {
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.hidden = false;
      box.addEventListener("change", function () {
        var table = box.closest("table");
        table.querySelectorAll('tbody input[type="checkbox"][name="ids"]').forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wireSelectAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.querySelectorAll) wireSelectAll(event.detail.elt);
  });
})();
