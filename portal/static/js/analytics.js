// The portal's own page-view counter. Loaded only after the visitor allowed analytics;
// it sends the page's path and the referring page, and nothing leaves this site.
(function () {
  "use strict";
  if (!window.fetch) return;
  fetch("/consent/page-view", {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path: location.pathname, referrer: document.referrer || null })
  });
})();
