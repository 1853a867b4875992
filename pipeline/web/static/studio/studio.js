/* The studio's own script (no inline script anywhere: the CSP forbids it).
   - turns textarea[data-markdown-editor] into an EasyMDE editor (no CDN: no icon font,
     no spell-check dictionary), keeps the textarea in step and asks htmx for a new
     preview as you type;
   - shows each check finding of the preview under the line it names;
   - inserts an uploaded image's Markdown at the cursor;
   - the preview's dark-mode and phone-width switches. */
(function () {
  "use strict";
  var mde = null;
  var widgets = [];

  function form() { return document.getElementById("editor-form"); }

  function askPreview() {
    var f = form();
    if (f && window.htmx) { window.htmx.trigger(f, "preview"); }
  }

  var dirty = false;

  function markDirty() {
    dirty = true;
    var d = document.getElementById("dirty");
    if (d) { d.textContent = "Not saved yet"; }
  }

  // leaving the page with unsaved text asks first (saving it does not)
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "editor-form") { dirty = false; }
  });

  function setupEditor() {
    var area = document.querySelector("textarea[data-markdown-editor]");
    if (!area) { return; }
    if (window.EasyMDE) {
      mde = new window.EasyMDE({
        element: area,
        autoDownloadFontAwesome: false,
        spellChecker: false,
        nativeSpellcheck: true,
        toolbar: false,
        status: ["lines", "cursor"],
        forceSync: true,
        indentWithTabs: false,
        minHeight: "420px",
        inputStyle: "contenteditable",
        previewRender: function () { return ""; }
      });
      var cm = mde.codemirror;
      var input = cm.getInputField();
      if (input) {
        input.setAttribute("aria-label", "Markdown of " + (area.form ? area.form.elements.file.value : "the file"));
      }
      // Tab and Shift-Tab move the focus on, as everywhere else on the page (no keyboard
      // trap); indenting is with the list keys or spaces
      var keys = Object.assign({}, cm.getOption("extraKeys") || {});
      keys.Tab = false;
      keys["Shift-Tab"] = false;
      cm.setOption("extraKeys", keys);
      cm.on("change", function () { area.value = mde.value(); markDirty(); askPreview(); });
    } else {
      area.addEventListener("input", function () { markDirty(); askPreview(); });
    }
  }

  function clearWidgets() {
    widgets.forEach(function (w) { w.clear(); });
    widgets = [];
  }

  function showFindings() {
    if (!mde) { return; }
    var cm = mde.codemirror;
    clearWidgets();
    var items = document.querySelectorAll("#findings li.finding[data-line]");
    items.forEach(function (li) {
      var line = parseInt(li.getAttribute("data-line"), 10);
      if (!line || line < 1 || line > cm.lineCount()) { return; }
      var node = document.createElement("div");
      node.className = "finding-widget " + li.getAttribute("data-level");
      node.setAttribute("role", "note");
      node.textContent = "\u25B2 line " + line + ": " + li.getAttribute("data-message");
      widgets.push(cm.addLineWidget(line - 1, node, { coverGutter: false, noHScroll: true }));
    });
  }

  function frontMatterEnd(cm) {
    if (cm.getLine(0).trim() !== "---") { return -1; }
    for (var i = 1; i <= cm.lastLine(); i++) {
      if (cm.getLine(i).trim() === "---") { return i; }
    }
    return -1;
  }

  function insertUpload(target) {
    var code = target.querySelector("[data-insert]");
    if (!code) { return; }
    var text = code.getAttribute("data-insert");
    if (mde) {
      var cm = mde.codemirror;
      var end = frontMatterEnd(cm);
      if (cm.getCursor().line <= end) {  // not into the front matter: at the end instead
        cm.setCursor({ line: cm.lastLine(), ch: cm.getLine(cm.lastLine()).length });
      }
      cm.replaceSelection("\n" + text + "\n");
      cm.focus();
    } else {
      var area = document.querySelector("textarea[data-markdown-editor]");
      if (area) { area.value += "\n" + text + "\n"; askPreview(); }
    }
    var up = document.querySelector("form.upload");
    if (up) { up.reset(); }
  }

  function setupToggles() {
    document.querySelectorAll("[data-preview-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        var box = document.getElementById("preview-box");
        var name = button.getAttribute("data-preview-toggle");
        var on = !box.classList.contains(name);
        box.classList.toggle(name, on);
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) { return; }
    if (target.id === "preview-result") { showFindings(); }
    if (target.id === "upload-result") { insertUpload(target); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupEditor();
    setupToggles();
  });
})();
