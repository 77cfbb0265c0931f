// cgd-bridge web pages: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  // The report filter: by severity and by finding code.
  document.querySelectorAll("fieldset[data-filter]").forEach(function (box) {
    var id = box.getAttribute("data-filter");
    var groups = document.querySelectorAll('.finding-group[data-group="' + id + '"]');
    var code = box.querySelector("[data-code-filter]");
    function apply() {
      var shown = {};
      box.querySelectorAll("input[data-sev]").forEach(function (c) { shown[c.getAttribute("data-sev")] = c.checked; });
      groups.forEach(function (g) {
        var sev = g.getAttribute("data-sev");
        var ok = shown[sev] !== false && (!code || !code.value || code.value === g.getAttribute("data-code"));
        g.hidden = !ok;
      });
    }
    box.addEventListener("change", apply);
    box.hidden = false;
  });
  // Copy buttons for the SDMX REST URLs.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    var input = document.getElementById(b.getAttribute("data-copy"));
    if (!input || !navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () { b.textContent = b.getAttribute("data-done") || "Copied"; });
    });
  });
  // The filters' code lists: a search box that hides the codes whose name or code does not match.
  document.querySelectorAll("[data-code-search]").forEach(function (box) {
    var input = box.querySelector("input");
    var items = box.parentNode.querySelectorAll(".code-list li");
    box.hidden = false;
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      items.forEach(function (li) {
        var checked = li.querySelector("input").checked;
        li.hidden = q !== "" && !checked && li.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });
  // Move focus to an error summary so screen-reader and keyboard users meet it first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
