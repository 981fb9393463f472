// Live log of a job run: the page shows the log as it was when rendered (a static view without JavaScript);
// this follows it through the JSON API (GET .../log?offset=N → {text, next_offset, finished}) and keeps the
// run's state, its start and end times, its worker and its error up to date; once the run has begun the "queued" banner
// goes, and once it has ended the Stop button too, until its whole log is shown.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || log.dataset.finished === "true") return;
  var offset = parseInt(log.dataset.offset, 10) || 0;
  var stateEl = document.getElementById("run-state"), took = document.getElementById("run-duration");
  var live = document.getElementById("live");
  var liveStates = (log.dataset.liveStates || "").split(" ");
  var follow = true;
  window.addEventListener("scroll", function () {
    follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  });
  function seconds(ms) {
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  }
  function when(ms) {  // as the page renders them: YYYY-MM-DD HH:MM:SS (UTC)
    return ms ? new Date(ms).toISOString().slice(0, 19).replace("T", " ") : "-";
  }
  function setText(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }
  function remove(el) {
    if (el && el.parentNode) el.parentNode.removeChild(el);
  }
  function showRun(run) {
    if (stateEl && run.state) {
      stateEl.textContent = run.state;
      stateEl.className = "state " + run.state;
    }
    if (took && run.duration_ms !== null && run.duration_ms !== undefined) took.textContent = seconds(run.duration_ms);
    setText("run-started", when(run.started_at));
    setText("run-ended", when(run.ended_at));
    if ("queued_ms" in run) {  // the timeline row, worded as the page renders it
      var dur = function (ms) { return ms === null || ms === undefined ? "-" : seconds(ms); };
      var driver = run.warm === null || run.warm === undefined ? "" : " (" + (run.warm ? "warm" : "cold") + " driver)";
      setText("run-timeline", "queued " + dur(run.queued_ms) + " \u00b7 starting " + dur(run.startup_ms) + driver +
        " \u00b7 running since " + when(run.running_at) + ", " + dur(run.execution_ms) + " (what the timeout counts)");
    }
    if (run.state !== "STARTING" && run.state !== "WAITING") {
      document.querySelectorAll(".flash-queued").forEach(remove);
    }
    var ended = run.state && liveStates.indexOf(run.state) < 0;
    if (ended || run.state === "STOPPING") remove(document.getElementById("stop-form"));
    [["worker", run.worker], ["error", run.error]].forEach(function (f) {
      if (!f[1]) return;
      setText("run-" + f[0], f[1]);
      var row = document.getElementById("run-" + f[0] + "-row");
      if (row) row.hidden = false;
    });
  }
  function tick() {
    fetch(log.dataset.url + "?offset=" + offset, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (d.error) throw new Error(d.error.message);
        if (d.text) {
          log.appendChild(document.createTextNode(d.text));
          if (follow) window.scrollTo(0, document.body.scrollHeight);
        }
        offset = d.next_offset;
        return fetch(log.dataset.runUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
          .then(function (run) {
            showRun(run);
            if (d.finished) {
              if (live) live.textContent = "The run has ended.";
              log.dataset.finished = "true";
            } else {
              setTimeout(tick, d.text ? 300 : 1000);
            }
          });
      })
      .catch(function (e) {
        if (live) live.textContent = "Following the log failed (" + e.message + "): retrying.";
        setTimeout(tick, 3000);
      });
  }
  if (live) live.textContent = "Following the log as the run goes on…";
  tick();
})();
