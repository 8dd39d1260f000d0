// "Add a problem" and "Remove" without a round trip. Without JavaScript the same buttons submit
// the form and the server renders it again with one row more or less.
(function () {
  "use strict";
  var list = document.getElementById("problems");
  var add = document.getElementById("add-problem");
  if (!list || !add) return;

  function rows() { return list.querySelectorAll(".problem-row"); }

  function renumber() {
    // Field names keep their index (the server reads any order); labels show 1, 2, 3...
    rows().forEach(function (row, i) {
      row.querySelectorAll(".row-number").forEach(function (el) { el.textContent = String(i + 1); });
    });
    var count = rows().length;
    document.getElementById("problem-count").textContent = count + (count === 1 ? " problem" : " problems");
  }

  function nextIndex() {
    var max = -1;
    rows().forEach(function (row) { max = Math.max(max, parseInt(row.dataset.index, 10)); });
    return max + 1;
  }

  function blank(row, index) {
    row.dataset.index = String(index);
    row.querySelectorAll("[name], [id], [for]").forEach(function (el) {
      ["name", "id", "for"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/^problems-\d+-/, "problems-" + index + "-"));
      });
    });
    row.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (el.type === "checkbox") el.checked = false;
      else if (el.tagName === "SELECT") el.selectedIndex = 0;
      else if (el.name && /-points$/.test(el.name)) el.value = "1";
      else el.value = "";
    });
    row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    var details = row.querySelector("details");
    if (details) details.open = false;
    var summary = row.querySelector(".policy-summary");
    if (summary) summary.textContent = "default";
  }

  add.addEventListener("click", function (event) {
    event.preventDefault();
    var all = rows();
    var row = all[all.length - 1].cloneNode(true);
    blank(row, nextIndex());
    list.appendChild(row);
    renumber();
    row.querySelector("textarea, input").focus();
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-row");
    if (!button) return;
    event.preventDefault();
    var all = rows();
    var row = button.closest(".problem-row");
    if (all.length === 1) { blank(row, parseInt(row.dataset.index, 10)); return; }
    row.remove();
    renumber();
    add.focus();
  });

  function summarise(event) {
    var details = event.target.closest("details.policy");
    if (!details) return;
    var parts = [];
    details.querySelectorAll("input[type=checkbox]:checked").forEach(function (el) {
      parts.push(el.parentNode.textContent.trim().split(" (")[0].toLowerCase());
    });
    details.querySelectorAll("input[type=number]").forEach(function (el) {
      if (el.value !== "") parts.push(el.parentNode.firstChild.textContent.trim().toLowerCase() + " " + el.value);
    });
    var units = details.querySelector("select[name$='-units']");
    if (units && units.value) parts.push("units " + units.value);
    details.querySelector(".policy-summary").textContent = parts.join(" · ") || "default";
  }
  list.addEventListener("change", summarise);
  list.addEventListener("input", summarise);
  renumber();
})();
