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

  // A row swapped again takes the message row under it along (a conflict shown before).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var row = event.detail.target;
    var message = row && row.id && document.getElementById(row.id + "-conflict");
    if (message) message.remove();
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
    if (target.matches(".table-region")) keepFocusIn(target, event.detail.requestConfig);
  });

  // A sort header or page link replaced with its table: focus that header's new link, or
  // for a page, the table, instead of leaving focus to the page's start.
  function keepFocusIn(region, request) {
    var link = request && request.elt;
    if (!link || document.body.contains(link) || !link.closest) return;
    var header = link.closest("th");
    if (header) {
      var column = Array.prototype.indexOf.call(header.parentNode.children, header);
      var headers = region.querySelectorAll("thead th");
      var again = headers[column] && headers[column].querySelector("a");
      if (again) return again.focus();
    }
    var table = region.querySelector(".table-scroll[tabindex]");
    if (table) return table.focus();
    region.setAttribute("tabindex", "-1");
    region.focus();
  }

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
