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
  // Uploads on a slow link: each chosen file's size before sending, then a progress bar while
  // the files go (XMLHttpRequest's upload progress), then "checking". Without JavaScript the
  // form posts as usual. The answer replaces the page as a normal post would.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var lang = document.documentElement.lang || "en";
    function size(n) {
      var unit = n >= 1e6 ? "megabyte" : n >= 1e3 ? "kilobyte" : "byte";
      var value = n >= 1e6 ? n / 1e6 : n >= 1e3 ? n / 1e3 : n;
      try {
        return new Intl.NumberFormat(lang, { style: "unit", unit: unit, unitDisplay: "short", maximumFractionDigits: n >= 1e6 ? 1 : 0 }).format(value);
      } catch (e) { return Math.round(value * 10) / 10 + " " + unit; }
    }
    function count(n) {  // in the page language's own digits, as the server writes them
      try { return new Intl.NumberFormat(lang).format(n); } catch (e) { return String(n); }
    }
    function fill(text, values) {
      return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
    }
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      var out = form.querySelector('[data-size-of="' + input.name + '"]');
      if (!out) { return; }
      input.addEventListener("change", function () {
        var f = input.files && input.files[0];
        out.hidden = !f;
        out.textContent = f ? fill(form.getAttribute("data-size"), { size: size(f.size) }) : "";
      });
    });
    if (!window.FormData || !window.XMLHttpRequest) { return; }
    var box = form.querySelector("[data-upload-progress]");
    var bar = box && box.querySelector("progress");
    var status = box && box.querySelector("[data-upload-status]");
    // The files go first, to /submit/files, with a progress bar; the server keeps them for the
    // sender and answers a token per file. Then the form itself is posted with the tokens instead
    // of the files (a normal page load: the check, the report or the redirect).
    var last = null;  // the button pressed, where the browser has no event.submitter
    form.querySelectorAll("button[name]").forEach(function (b) {
      b.addEventListener("click", function () { last = b; });
    });
    form.addEventListener("submit", function (event) {
      var chosen = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (i) {
        return i.files && i.files.length > 0;
      });
      if (!box || chosen.length === 0 || form.getAttribute("data-sent") === "yes") { return; }
      event.preventDefault();
      var button = event.submitter || last;
      var body = new FormData();
      body.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
      chosen.forEach(function (i) { body.append(i.name, i.files[0]); });
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      box.hidden = false;
      bar.value = 0;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-upload"));
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var percent = Math.floor((e.loaded / e.total) * 100);
        bar.value = percent;
        status.textContent = fill(form.getAttribute("data-sending"), { done: size(e.loaded), total: size(e.total), percent: count(percent) });
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
        if (xhr.status !== 200 || !answer || !answer.kept) {
          // The server's own page says what is wrong (too large, signed out...).
          document.open();
          document.write(xhr.responseText);
          document.close();
          return;
        }
        Object.keys(answer.kept).forEach(function (role) {
          var hidden = form.querySelector('input[name="kept_' + role + '"]');
          if (!hidden) {
            hidden = document.createElement("input");
            hidden.type = "hidden";
            hidden.name = "kept_" + role;
            form.appendChild(hidden);
          }
          hidden.value = answer.kept[role].token;
        });
        chosen.forEach(function (i) { i.disabled = true; });  // sent already: not again
        if (button && button.name) {
          var action = document.createElement("input");
          action.type = "hidden";
          action.name = button.name;
          action.value = button.value;
          form.appendChild(action);
        }
        bar.removeAttribute("value");  // indeterminate while the server checks
        status.textContent = form.getAttribute("data-checking");
        form.setAttribute("data-sent", "yes");
        form.submit();
      });
      xhr.addEventListener("error", function () {
        buttons.forEach(function (b) { b.disabled = false; });
        bar.value = 0;
        status.textContent = form.getAttribute("data-broken");
      });
      xhr.send(body);
    });
  });
  // The mapping builder's code lists: a search box above each long list keeps the options whose
  // code or name holds the typed text (the chosen one always stays); one match is chosen.
  document.querySelectorAll("select[data-searchable]").forEach(function (select, i) {
    var input = document.createElement("input");
    input.type = "search";
    input.id = "search-" + (select.id || i);
    input.className = "code-search";
    input.setAttribute("aria-label", select.getAttribute("data-searchable"));
    input.setAttribute("aria-controls", select.id);
    input.autocomplete = "off";
    select.parentNode.insertBefore(input, select);
    var options = Array.prototype.slice.call(select.options);
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = [];
      options.forEach(function (o) {
        var ok = q === "" || o.selected || o.textContent.toLowerCase().indexOf(q) >= 0;
        o.hidden = !ok;
        o.disabled = !ok && !o.selected;
        if (ok && q !== "" && o.value !== "") { shown.push(o); }
      });
      var unselected = shown.filter(function (o) { return !o.selected; });
      if (q !== "" && unselected.length === 1 && shown.length <= 2) {
        unselected[0].selected = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });
  // Move focus to an error summary so screen-reader and keyboard users meet it first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
