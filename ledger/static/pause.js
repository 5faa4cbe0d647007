// The pause timer, the offline note, and a noted pause both phones know
// about. The page works without this file: it only adds the countdown, kept
// on this device so it survives a reload, a locked screen and no network.
(function () {
  "use strict";
  var HARD_LIMIT = 24 * 3600 * 1000; // the way back starts within a day, at most
  var EXTRA = 10 * 60 * 1000; // "we need more time"
  var CHECK_EVERY = 60 * 1000; // how often an open page asks whether a pause was noted
  var body = document.body;
  var alertAllowed = body.getAttribute("data-alert") === "on";
  var timers = {}; // agreement id -> {adopt(pause), show()}

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
    var section = timer.parentNode;
    var minimum = parseInt(timer.getAttribute("data-minimum"), 10) * 60 * 1000;
    var returnHours = parseInt(timer.getAttribute("data-return-hours"), 10);
    var start = timer.querySelector(".start");
    var running = timer.querySelector(".running");
    var remaining = timer.querySelector(".remaining");
    var returnBy = timer.querySelector(".return-by");
    var endsAt = timer.querySelector(".ends-at");
    var capped = timer.querySelector(".capped");
    var more = timer.querySelector(".more");
    var done = timer.querySelector(".done");
    var endPause = section.querySelector(".end-pause");
    var confirmEnd = section.querySelector(".confirm-end");
    var stop = section.querySelector(".stop");
    var ticking = null;
    var alerted = false;
    timer.hidden = false;

    // The way back is what was agreed: more time never moves it.
    function backBy(state) { return state.start + Math.min(returnHours * 3600 * 1000, HARD_LIMIT); }
    function endOf(state) {
      var end = state.start + minimum + state.extra;
      return Math.min(end, Math.max(backBy(state), state.start + minimum));
    }

    function show() {
      var state = load(key);
      if (!state) {
        start.parentNode.hidden = false; running.hidden = true; done.hidden = true;
        endPause.hidden = true; confirmEnd.hidden = true; stop.hidden = false;
        clearInterval(ticking); ticking = null;
        return;
      }
      start.parentNode.hidden = true; running.hidden = false; endPause.hidden = false;
      var now = Date.now();
      var end = endOf(state);
      var back = backBy(state);
      endsAt.textContent = "The pause ends at " + clock(end) + ".";
      returnBy.textContent = "We come back to the conversation by " + clock(back) + " at the latest.";
      var atLimit = end + EXTRA > back;
      more.hidden = atLimit;
      capped.hidden = !atLimit;
      capped.textContent = "The pause can't run past " + clock(back) + ": that is when we agreed to come back.";
      var left = end - now;
      if (left > 0) {
        var minutes = Math.floor(left / 60000);
        remaining.textContent = minutes + ":" + pad(Math.floor((left % 60000) / 1000)) + " left of the pause";
        remaining.hidden = false; endsAt.hidden = false;
        done.hidden = true;
      } else {
        remaining.hidden = true; endsAt.hidden = true; more.hidden = true; capped.hidden = true;
        done.hidden = false;
        if (alertAllowed && !alerted && now - end < 60000) {
          alerted = true;
          if (navigator.vibrate) { navigator.vibrate(200); }
        }
      }
      var noted = section.querySelector(".started-ms");
      if (noted) { noted.value = String(state.start); }
    }

    function run() { show(); if (!ticking) { ticking = setInterval(show, 1000); } }

    start.addEventListener("click", function () {
      if (load(key)) { show(); return; } // already running: never restart by a mis-tap
      store(key, { start: Date.now(), extra: 0 });
      run();
      running.scrollIntoView({ block: "center" });
    });
    more.addEventListener("click", function () {
      var state = load(key);
      if (state && endOf(state) + EXTRA <= backBy(state)) { state.extra += EXTRA; store(key, state); show(); }
    });
    // Ending asks once: it forgets when the pause started.
    stop.addEventListener("click", function () {
      confirmEnd.hidden = false; stop.hidden = true;
      confirmEnd.querySelector(".keep").focus();
    });
    confirmEnd.querySelector(".keep").addEventListener("click", function () {
      confirmEnd.hidden = true; stop.hidden = false; stop.focus();
    });
    confirmEnd.querySelector(".confirm-stop").addEventListener("click", function () {
      var state = load(key);
      if (state && state.noted) { store(key + ".ended", state.noted); }
      store(key, null); show();
    });

    timers[timer.getAttribute("data-agreement")] = {
      // A partner noted a pause with this signal: run the same pause here,
      // unless this device is running one already or ended this one.
      adopt: function (pause) {
        var state = load(key);
        if (state) {
          // This device's own pause, now noted: remember which one it is.
          if (!state.noted) { state.noted = pause.id; store(key, state); }
          return;
        }
        if (load(key + ".ended") === pause.id) { return; }
        store(key, { start: pause.started_ms, extra: 0, noted: pause.id });
        run();
      }
    };
    show();
    if (load(key)) { ticking = setInterval(show, 1000); }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".timer"), setUp);

  // A noted pause, shown on every partner's page.
  function showNoted(block, pause) {
    var ledger = block.parentNode;
    block.hidden = !pause;
    Array.prototype.forEach.call(ledger.querySelectorAll(".note-form"), function (form) {
      form.hidden = !!pause;
    });
    if (!pause) { return; }
    var text = pause.by + " noted a pause" + (pause.signal ? " (" + pause.signal + ")" : "") +
      " at " + clock(pause.started_ms) + ". It ends at " + clock(pause.ends_ms) +
      " at the earliest, and we come back to the conversation by " + clock(pause.back_ms) +
      " at the latest.";
    var p = block.querySelector(".noted-text");
    p.textContent = text;
    p.setAttribute("dir", "auto");
    block.querySelector(".resumed-form").action =
      block.getAttribute("data-resumed") + "/" + pause.id + "/resumed?back=pause";
    var timer = timers[String(pause.agreement)];
    if (timer) { timer.adopt(pause); }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".noted[data-pause]"), function (block) {
    var agreement = block.getAttribute("data-agreement");
    var timer = timers[agreement];
    if (timer) {
      timer.adopt({ id: parseInt(block.getAttribute("data-pause"), 10),
                    started_ms: parseInt(block.getAttribute("data-started-ms"), 10) });
    }
  });

  var offlineCopy = body.hasAttribute("data-offline-copy");

  function check() {
    if (offlineCopy || !navigator.onLine || !window.fetch) { return; }
    fetch(body.getAttribute("data-running"), { credentials: "same-origin",
                                                headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !data.pauses) { return; }
        Array.prototype.forEach.call(document.querySelectorAll(".ledger-pause"), function (ledger) {
          var id = parseInt(ledger.getAttribute("data-ledger"), 10);
          var pause = data.pauses.filter(function (p) { return p.ledger === id; })[0] || null;
          showNoted(ledger.querySelector(".noted"), pause);
        });
      })
      .catch(function () { /* offline or lie-fi: quietly nothing */ });
  }
  setInterval(check, CHECK_EVERY);

  // The service worker marks the copy it saved; the browser's own guess
  // (navigator.onLine) is only a second hint, wrong on "lie-fi".
  function connectivity() {
    var offline = offlineCopy || !navigator.onLine;
    var note = document.querySelector(".offline-note");
    var asOf = document.querySelector(".as-of");
    if (note) { note.hidden = !offline; }
    if (asOf) { asOf.hidden = !offline; }
  }
  window.addEventListener("online", connectivity);
  window.addEventListener("offline", connectivity);
  connectivity();

  if ("serviceWorker" in navigator && !offlineCopy) {
    navigator.serviceWorker.register("/sw.js").then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // This page came from the network, not through the worker (its very
      // first visit): have the worker save a copy now.
      if (!navigator.serviceWorker.controller && registration.active) {
        registration.active.postMessage("refresh-pause");
      }
    }).catch(function () {});
  }
})();
