"use strict";
// Sort a table's body rows by one column when its header button is clicked. Cells carry their
// sort key in data-sort (a number, or text); empty keys always sort last.
(function () {
  function keyOf(row, column) {
    const cell = row.cells[column];
    const raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null || raw === "") {
      return null;
    }
    const number = Number(raw);
    return Number.isNaN(number) ? raw.toLowerCase() : number;
  }

  function compare(a, b, ascending) {
    if (a.key === null || b.key === null) {
      if (a.key === b.key) {
        return a.position - b.position;
      }
      return a.key === null ? 1 : -1;
    }
    if (a.key < b.key) {
      return ascending ? -1 : 1;
    }
    if (a.key > b.key) {
      return ascending ? 1 : -1;
    }
    return a.position - b.position;
  }

  function sortBy(table, button) {
    const header = button.closest("th");
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach((th) => th.removeAttribute("aria-sort"));
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const column = Number(button.dataset.column);
    const body = table.tBodies[0];
    const entries = Array.from(body.rows, (row, position) => ({ row, position, key: keyOf(row, column) }));
    entries.sort((a, b) => compare(a, b, ascending));
    entries.forEach((entry) => body.appendChild(entry.row));
  }

  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("th button[data-column]").forEach((button) => {
      button.addEventListener("click", () => sortBy(table, button));
    });
  });
})();
