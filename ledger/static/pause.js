// The pause timer and the offline note. The page works without this file:
// it only adds the countdown, kept on this device so it survives a reload,
// a locked screen and no network.
(function () {
  "use strict";
  var HARD_LIMIT = 24 * 3600 * 1000; // the way back starts within a day, at most
  var EXTRA = 10 * 60 * 1000; // "we need more time"
  var body = document.body;
  var alertAllowed = body.getAttribute("data-alert") === "on";

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function store(key, value) {
    try {
      if (value === null) { localStorage.removeItem(key); } else { localStorage.setItem(key, JSON.stringify(value)); }
    } catch (e) { /* private mode: the timer still runs until reload */ }
  }
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  function setUp(timer) {
    var key = "ledger.pause." + timer.getAttribute("data-key");
    var minimum = parseInt(timer.getAttribute("data-minimum"), 10) * 60 * 1000;
    var returnHours = parseInt(timer.getAttribute("data-return-hours"), 10);
    var start = timer.querySelector(".start");
    var running = timer.querySelector(".running");
    var remaining = timer.querySelector(".remaining");
    var returnBy = timer.querySelector(".return-by");
    var endsAt = timer.querySelector(".ends-at");
    var done = timer.querySelector(".done");
    var ticking = null;
    var alerted = false;
    timer.hidden = false;

    function show() {
      var state = load(key);
      if (!state) {
        start.parentNode.hidden = false; running.hidden = true; done.hidden = true;
        clearInterval(ticking); ticking = null;
        return;
      }
      start.parentNode.hidden = true; running.hidden = false;
      var now = Date.now();
      var end = Math.min(state.start + minimum + state.extra, state.start + HARD_LIMIT);
      var back = Math.min(state.start + returnHours * 3600 * 1000 + state.extra, state.start + HARD_LIMIT);
      endsAt.textContent = "The pause ends at " + clock(end) + ".";
      returnBy.textContent = "We come back to the conversation by " + clock(back) + " at the latest.";
      var left = end - now;
      if (left > 0) {
        var minutes = Math.floor(left / 60000);
        remaining.textContent = minutes + ":" + pad(Math.floor((left % 60000) / 1000)) + " left of the pause";
        remaining.hidden = false; endsAt.hidden = false;
        done.hidden = true;
      } else {
        remaining.hidden = true; endsAt.hidden = true;
        done.hidden = false;
        if (alertAllowed && !alerted && now - end < 60000) {
          alerted = true;
          if (navigator.vibrate) { navigator.vibrate(200); }
        }
      }
      var noted = document.querySelector(".started-ms");
      if (noted) { noted.value = String(state.start); }
    }

    start.addEventListener("click", function () {
      if (load(key)) { show(); return; } // already running: never restart by a mis-tap
      store(key, { start: Date.now(), extra: 0 });
      show();
      running.scrollIntoView({ block: "center" });
      if (!ticking) { ticking = setInterval(show, 1000); }
    });
    timer.querySelector(".more").addEventListener("click", function () {
      var state = load(key);
      if (state) { state.extra += EXTRA; store(key, state); show(); }
    });
    timer.querySelector(".stop").addEventListener("click", function () {
      store(key, null); show();
    });
    show();
    if (load(key)) { ticking = setInterval(show, 1000); }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".timer"), setUp);

  function connectivity() {
    var note = document.querySelector(".offline-note");
    if (note) { note.hidden = navigator.onLine; }
  }
  window.addEventListener("online", connectivity);
  window.addEventListener("offline", connectivity);
  connectivity();

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  }
})();
