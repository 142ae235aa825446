// Refreshes the console's panels in place: fetches the same page's panels (fragment=1)
// every data-refresh-seconds and swaps them in. No library, no other host.
(function () {
  "use strict";
  var panels = document.getElementById("console-panels");
  var status = document.getElementById("console-status");
  if (!panels) {
    return;
  }
  var seconds = parseInt(panels.getAttribute("data-refresh-seconds"), 10) || 20;
  var url = window.location.pathname + "?fragment=1&window=" + encodeURIComponent(panels.getAttribute("data-window"));

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          // Signed out or the server failing: say so and keep the last figures.
          status.textContent = response.redirected ? "signed out: reload the page" : "refresh failed (" + response.status + ")";
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          panels.innerHTML = html;
          status.textContent = "live";
        }
      })
      .catch(function () {
        status.textContent = "refresh failed (network)";
      });
  }

  window.setInterval(refresh, seconds * 1000);
})();
