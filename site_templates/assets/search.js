// Progressive enhancement for the dchub catalogue: without JavaScript every page is complete.
// - the home page's search box filters the models table as you type (name, task, tag, framework);
// - "Copy" buttons copy the "how to load" snippets;
// - "how to load" and the mirrors list show the address this site is browsed at (or its folder).
(function () {
  "use strict";

  function setupSearch() {
    var box = document.getElementById("search-box");
    var input = document.getElementById("search");
    var table = document.getElementById("models");
    if (!box || !input || !table) { return; }
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var count = document.getElementById("search-count");
    var none = document.getElementById("no-match");
    function filter() {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.getAttribute("data-search") || "";
        var match = terms.every(function (term) { return text.indexOf(term) !== -1; });
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      if (count) { count.textContent = terms.length ? shown + " of " + rows.length + " models" : ""; }
      if (none) { none.hidden = shown !== 0; }
    }
    input.addEventListener("input", filter);
    box.hidden = false;
    if (input.value) { filter(); }
  }

  function setupCopy() {
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { copy(target, button); });
    });
  }

  function copy(target, button) {
    var selection = window.getSelection();
    var range = document.createRange();
    range.selectNodeContents(target);
    selection.removeAllRanges();
    selection.addRange(range);
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.textContent).then(done, function () {
        button.textContent = "Selected: press Ctrl+C";
      });
    } else {
      button.textContent = "Selected: press Ctrl+C";
    }
  }

  // The hub root as a user would put it in DEEPCHEM_MODEL_HUB: the URL the site is browsed at
  // (http/https), or the folder it is opened from (file://). The page's own HTML holds the first
  // mirror, shown when the script does not run.
  function hubRoot() {
    var home = document.querySelector("a.home");
    if (!home) { return null; }
    var url = new URL(".", home.href);
    if (/^https?:$/.test(url.protocol)) {
      return {root: url.href, why: "This is the address you are browsing this hub at."};
    }
    if (url.protocol === "file:") {
      return {root: decodeURIComponent(url.pathname), why: "This is the folder you opened this hub from."};
    }
    return null;
  }

  // The note under the snippet says what it now holds (the page's HTML says: the first mirror).
  function setupHubRoot() {
    var spans = document.querySelectorAll(".hub-root");
    var found = spans.length ? hubRoot() : null;
    if (!found) { return; }
    Array.prototype.forEach.call(spans, function (span) { span.textContent = found.root; });
    Array.prototype.forEach.call(document.querySelectorAll(".hub-root-why"), function (why) {
      why.textContent = found.why;
    });
  }

  function start() {
    setupSearch();
    setupCopy();
    setupHubRoot();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
