// Mortar's script editor: a <textarea data-editor="python"> laid over a <pre> that shows the same text with
// Python syntax highlighting (keywords, builtins, strings, comments, numbers, decorators), and a gutter of
// line numbers. Tab inserts 4 spaces (Shift-Tab removes up to 4), Enter keeps the line's indentation (one
// level more after a colon). Without JavaScript the textarea stays a plain textarea.
// Read-only blocks: <pre data-highlight="python"> are highlighted in place.
(function () {
  "use strict";
  var KEYWORDS = ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield " +
    "match case").split(" ");
  var BUILTINS = ("abs all any bool bytes dict dir enumerate filter float format getattr hasattr int isinstance " +
    "len list map max min next object open print range repr reversed round set setattr sorted str sum super " +
    "tuple type zip self cls Exception ValueError KeyError TypeError RuntimeError").split(" ");
  var KW = {}, BI = {};
  KEYWORDS.forEach(function (k) { KW[k] = true; });
  BUILTINS.forEach(function (k) { BI[k] = true; });
  // one alternation, tried at each position: order matters (triple-quoted strings before simple ones)
  var TOKEN = new RegExp([
    "(#[^\\n]*)",                                                        // 1 comment
    "((?:[rRbBuUfF]{0,2})(?:\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'''[\\s\\S]*?(?:'''|$)))", // 2 triple-quoted string
    "((?:[rRbBuUfF]{0,2})(?:\"(?:\\\\.|[^\"\\\\\\n])*\"?|'(?:\\\\.|[^'\\\\\\n])*'?))", // 3 string
    "(^[ \\t]*@[\\w.]+)",                                                // 4 decorator (at a line's start)
    "(\\b(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)(?:[eE][+-]?\\d+)?[jJ]?)\\b)", // 5 number
    "([A-Za-z_][A-Za-z0-9_]*)"                                           // 6 name
  ].join("|"), "gm");

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function span(cls, text) {
    return '<span class="tok-' + cls + '">' + esc(text) + "</span>";
  }

  function highlight(src) {
    var out = "", last = 0, m, prevDef = false;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(src)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      out += esc(src.slice(last, m.index));
      if (m[1]) out += span("comment", m[1]);
      else if (m[2] || m[3]) out += span("string", m[0]);
      else if (m[4]) out += span("decorator", m[4]);
      else if (m[5]) out += span("number", m[5]);
      else if (KW[m[6]]) out += span("keyword", m[6]);
      else if (prevDef) out += span("def", m[6]);
      else if (BI[m[6]]) out += span("builtin", m[6]);
      else out += esc(m[6]);
      prevDef = m[6] === "def" || m[6] === "class";
      last = TOKEN.lastIndex;
    }
    return out + esc(src.slice(last));
  }

  function lineStart(text, pos) {
    return text.lastIndexOf("\n", pos - 1) + 1;
  }

  // Replace the selection with `text` through the browser's editing (keeps undo) when it can.
  function insert(area, text) {
    area.focus();
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      var s = area.selectionStart, e = area.selectionEnd;
      area.value = area.value.slice(0, s) + text + area.value.slice(e);
      area.selectionStart = area.selectionEnd = s + text.length;
      area.dispatchEvent(new Event("input"));
    }
  }

  function onKey(area, ev) {
    var v = area.value, s = area.selectionStart, e = area.selectionEnd;
    if (ev.key === "Tab" && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      if (ev.shiftKey) {  // dedent the current line by up to 4 spaces
        var ls = lineStart(v, s), n = 0;
        while (n < 4 && v.charAt(ls + n) === " ") n++;
        if (n) {
          area.setSelectionRange(ls, ls + n);
          insert(area, "");
          area.setSelectionRange(Math.max(ls, s - n), Math.max(ls, e - n));
        }
      } else {
        insert(area, "    ");
      }
    } else if (ev.key === "Enter" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ev.shiftKey) {
      ev.preventDefault();
      var line = v.slice(lineStart(v, s), s);
      var indent = /^[ \t]*/.exec(line)[0];
      if (/:\s*(#.*)?$/.test(line)) indent += "    ";
      insert(area, "\n" + indent);
    }
  }

  function attach(area) {
    var box = document.createElement("div"), gutter = document.createElement("div"),
      wrap = document.createElement("div"), pre = document.createElement("pre");
    box.className = "editor";
    gutter.className = "editor-gutter";
    gutter.setAttribute("aria-hidden", "true");
    wrap.className = "editor-code";
    pre.className = "editor-highlight";
    pre.setAttribute("aria-hidden", "true");
    area.parentNode.insertBefore(box, area);
    box.appendChild(gutter);
    box.appendChild(wrap);
    wrap.appendChild(pre);
    wrap.appendChild(area);
    area.setAttribute("wrap", "off");
    area.setAttribute("spellcheck", "false");
    area.classList.add("editor-input");
    var lines = -1;
    function render() {
      var text = area.value;
      pre.innerHTML = highlight(text) + (text.endsWith("\n") || text === "" ? " " : "");
      var n = text.split("\n").length;
      if (n !== lines) {
        lines = n;
        var nums = [];
        for (var i = 1; i <= n; i++) nums.push(i);
        gutter.textContent = nums.join("\n");
      }
      sync();
    }
    function sync() {
      pre.scrollTop = area.scrollTop;
      pre.scrollLeft = area.scrollLeft;
      gutter.scrollTop = area.scrollTop;
    }
    area.addEventListener("input", render);
    area.addEventListener("scroll", sync);
    area.addEventListener("keydown", function (ev) { onKey(area, ev); });
    render();
  }

  document.querySelectorAll('textarea[data-editor="python"]').forEach(attach);
  document.querySelectorAll('pre[data-highlight="python"]').forEach(function (p) {
    p.innerHTML = highlight(p.textContent);
  });
  window.mortarHighlight = highlight;
})();
