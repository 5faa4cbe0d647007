// Progressive touches only: every page works without this file.
(function () {
  "use strict";
  // Preselect the browser's own time zone on a select nobody has touched yet.
  // Browsers may report an old spelling (Chromium says "Asia/Calcutta"); the
  // select's data-tz-links maps those to the names it offers ("Asia/Kolkata").
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) { return; }
  document.querySelectorAll('select[data-tz="detect"]').forEach(function (select) {
    var links = {};
    try { links = JSON.parse(select.getAttribute("data-tz-links") || "{}"); } catch (e) { /* none */ }
    var wanted = Object.prototype.hasOwnProperty.call(links, zone) ? links[zone] : zone;
    if (select.value !== "UTC") { return; }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === wanted) { select.value = wanted; return; }
    }
  });
})();

// Copy and share an invitation link. Without this file the link is still
// shown in its field, to select and copy by hand.
(function () {
  "use strict";
  document.querySelectorAll("[data-link-actions]").forEach(function (actions) {
    var field = document.getElementById(actions.getAttribute("data-link-actions"));
    var status = document.querySelector('[data-status-for="' + field.id + '"]');
    var copy = actions.querySelector("[data-copy]");
    var share = actions.querySelector("[data-share]");
    function say(text) { if (status) { status.textContent = text; } }
    function copyByHand() {
      field.focus();
      field.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      say(done ? "The link is copied." : "The link is selected: copy it with your device's menu.");
    }
    copy.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(function () {
          say("The link is copied.");
        }, copyByHand);
      } else {
        copyByHand();
      }
    });
    if (navigator.share) {
      share.hidden = false;
      share.addEventListener("click", function () {
        navigator.share({ title: actions.getAttribute("data-share-title") || "", url: field.value })
          .then(function () { say(""); }, function () { /* closed, or not shared */ });
      });
    }
    actions.hidden = false;
  });
})();

// Count down the room left in long fields. The limit is stated without this
// file too, and the server says how long a text is rather than cutting it.
(function () {
  "use strict";
  function size(text) {
    // Line breaks travel as two characters (CR LF), and the server counts them so.
    return text.length + (text.match(/\n/g) || []).length;
  }
  function number(n) { return n.toLocaleString("en-GB"); }
  document.querySelectorAll("textarea[data-limit]").forEach(function (area) {
    var limit = parseInt(area.getAttribute("data-limit"), 10);
    var counter = document.getElementById(area.id + "-count");
    if (!limit || !counter) { return; }
    // Read out to screen readers once typing rests, not at every key.
    var live = document.createElement("span");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    counter.parentNode.insertBefore(live, counter.nextSibling);
    var timer = null;
    function update(announce) {
      var left = limit - size(area.value);
      var text = left >= 0
        ? number(left) + (left === 1 ? " character left" : " characters left")
        : number(-left) + (left === -1 ? " character too many" : " characters too many") +
          ": please shorten it to " + number(limit) + ". Nothing was cut.";
      counter.textContent = text;
      counter.classList.toggle("over", left < 0);
      clearTimeout(timer);
      if (announce) { timer = setTimeout(function () { live.textContent = text; }, 1000); }
    }
    area.addEventListener("input", function () { update(true); });
    update(false);
  });
})();

// Print buttons on the pages made for paper; without this file, the
// browser's own menu prints them.
(function () {
  "use strict";
  if (typeof window.print !== "function") { return; }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
    var holder = button.closest("[data-print-action]");
    if (holder) { holder.hidden = false; }
  });
})();

// Keep the offline copy of the pause page fresh while the app is used online.
(function () {
  "use strict";
  if (!document.body.hasAttribute("data-signed-in") || !("serviceWorker" in navigator)) { return; }
  navigator.serviceWorker.register("/sw.js").then(function () {
    return navigator.serviceWorker.ready;
  }).then(function (registration) {
    var last = 0;
    try { last = parseInt(localStorage.getItem("ledger.pause.synced") || "0", 10); } catch (e) { /* none */ }
    if (registration.active && Date.now() - last > 5 * 60 * 1000) {
      registration.active.postMessage("refresh-pause");
      try { localStorage.setItem("ledger.pause.synced", String(Date.now())); } catch (e) { /* none */ }
    }
  }).catch(function () {});
})();
