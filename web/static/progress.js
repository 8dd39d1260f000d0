// Live grading progress: poll the progress endpoint while answers wait, update "27/40 graded" and
// the bar, and when grading ends fetch the page once to refresh the results and the class picture.
(function () {
  "use strict";
  var INTERVAL_MS = 1500;
  var REFRESH_MS = 10000;  // the results table is re-read at most this often while grading runs

  function text(p) {
    var extra = [];
    if (p.needs_review) extra.push(p.needs_review + " need review");
    if (p.failed) extra.push(p.failed + " failed");
    if (p.queued + p.grading) extra.push((p.queued + p.grading) + " waiting");
    return {main: p.graded + "/" + p.total + " graded", detail: extra.length ? " · " + extra.join(" · ") : ""};
  }

  function refreshSections() {
    fetch(window.location.href, {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["results", "class-picture"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) old.replaceWith(fresh);
        });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-progress-url]");
    if (!box || typeof fetch !== "function") return;
    var bar = box.querySelector("progress");
    var main = box.querySelector(".progress-text");
    var detail = box.querySelector(".progress-detail");
    // The state the page was rendered with: any change from it refreshes the results.
    var last = null;
    try { last = JSON.stringify(JSON.parse(box.getAttribute("data-progress"))); } catch (e) { last = null; }
    var refreshed = 0;

    function poll() {
      fetch(box.getAttribute("data-progress-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (p) {
          var t = text(p), waiting = p.queued + p.grading;
          main.textContent = t.main;
          detail.textContent = t.detail;
          bar.max = Math.max(p.total, 1);
          bar.value = p.total - waiting;
          var key = JSON.stringify(p), now = Date.now();
          if (key !== last && (waiting === 0 || now - refreshed > REFRESH_MS)) {
            refreshed = now;
            refreshSections();
          }
          last = key;
          if (waiting > 0) window.setTimeout(poll, INTERVAL_MS);
          else box.setAttribute("data-done", "true");
        })
        .catch(function () { window.setTimeout(poll, INTERVAL_MS * 4); });
    }
    poll();
  });
})();
