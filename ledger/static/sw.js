// Ledger's service worker: keeps the pause page and the static files so the
// pause page opens with no network. It caches nothing else.
"use strict";
var CACHE = "ledger-pause-v2";
var PAUSE = "/pause";
var ASSETS = ["/static/style.css", "/static/pause.js", "/static/app.js", "/static/icon.svg",
              "/static/icon-neutral.svg"];
var TIMEOUT = 1500;

self.addEventListener("install", function (event) {
  // Save the pause page at once: the first page after logging in may be the
  // pause page itself, loaded before this worker existed.
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); })
    .then(function () { return refreshPause().catch(function () {}); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) {
      return caches.delete(k);
    }));
  }).then(function () { return self.clients.claim(); }));
});

function refreshPause() {
  return fetch(PAUSE, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
    return caches.open(CACHE).then(function (cache) {
      var keep = response.headers.get("Ledger-Offline-Copy") === "allowed";
      if (response.ok && response.type === "basic" && keep) {
        return cache.put(PAUSE, response.clone()).then(function () { return response; });
      }
      if (response.ok || response.type === "opaqueredirect" || response.status === 401 ||
          response.status === 403) {
        // Signed out (sent to log in), or a device that is not remembered:
        // keep nothing private.
        return cache.delete(PAUSE).then(function () { return response; });
      }
      return response; // a server error: the saved copy is still the best answer
    });
  });
}

// The saved copy says it is one: the page shows its offline note from this
// mark, whatever the browser believes about the network.
function markedCopy(cached) {
  return cached.text().then(function (html) {
    return new Response(html.replace("<body ", "<body data-offline-copy "),
                        { status: 200, headers: cached.headers });
  });
}

function usable(response) {
  return response && (response.ok || response.type === "opaqueredirect" || response.status < 500);
}

function pauseNetworkFirst() {
  var network = refreshPause();
  var timeout = new Promise(function (resolve) { setTimeout(resolve, TIMEOUT); });
  return Promise.race([network.catch(function () { return null; }), timeout]).then(function (response) {
    if (usable(response)) { return response; }
    return caches.match(PAUSE).then(function (cached) {
      if (cached) { return markedCopy(cached); }
      if (response) { return response; }
      return network.catch(function () {
        return new Response("You're offline, and no copy of the pause page is saved on this device yet.",
                            { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname === PAUSE) {
    event.respondWith(pauseNetworkFirst());
  } else if (ASSETS.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(request).then(function (cached) {
      var network = fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      });
      return cached || network;
    }));
  }
});

// Pages of the app ask for a fresh copy while online.
self.addEventListener("message", function (event) {
  if (event.data === "refresh-pause") { event.waitUntil(refreshPause().catch(function () {})); }
});
