// Progressive touches only: every page works without this file.
(function () {
  "use strict";
  // Preselect the browser's own time zone on a select nobody has touched yet.
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  document.querySelectorAll('select[data-tz="detect"]').forEach(function (select) {
    if (select.value === "UTC" && zone && select.querySelector('option[value="' + zone + '"]')) {
      select.value = zone;
    }
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
