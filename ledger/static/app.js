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
