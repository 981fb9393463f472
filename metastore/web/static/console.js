// What the console's pages do in the browser, without inline scripts or event handlers (the
// Content-Security-Policy allows scripts from this site's static files only).
(function () {
  "use strict";

  // Forms with data-confirm ask before they are sent (delete buttons).
  document.addEventListener("submit", function (event) {
    var form = event.target, question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Live preview of a schedule's next fire times, from the JSON API (GET only: no CSRF token needed):
  // the element #schedule-preview names the API in data-url and the text for an empty schedule in data-empty.
  function schedulePreview() {
    var input = document.getElementById("schedule"), out = document.getElementById("schedule-preview"), timer;
    if (!input || !out || !out.getAttribute("data-url")) {
      return;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var cron = input.value.trim();
        if (!cron) { out.textContent = out.getAttribute("data-empty") || ""; return; }
        fetch(out.getAttribute("data-url") + "?n=5&cron=" + encodeURIComponent(cron), {credentials: "same-origin"})
          .then(function (r) { return r.json(); })
          .then(function (d) { out.textContent = d.times ? "Next: " + d.times.join(", ") : d.error.message; });
      }, 300);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedulePreview);
  } else {
    schedulePreview();
  }
})();
