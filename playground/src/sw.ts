// sw: the service worker that makes the playground work offline once loaded. It keeps every file of
// the build (the list and a version hash are written in by tools/build.ts) and answers from that copy
// first; a new build is a new version, which replaces the copy and removes the old one.
//
// Worked example: a visit caches index.html, main-<hash>.js, main-<hash>.css and the KaTeX fonts; with
// the network gone, reloading the page (its fragment included: fragments never reach a server) is
// served from the cache and works as before.
declare const self: ServiceWorkerGlobalScope;
declare const DELTAGRAD_PRECACHE: readonly string[];
declare const DELTAGRAD_VERSION: string;

const CACHE = `deltagrad-playground-${DELTAGRAD_VERSION}`;
// relative to the service worker's own address, so the site may live under any path
const urlOf = (path: string) => new URL(path, self.registration.scope).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // 'reload': from the network, not from an HTTP cache that may hold the previous build
      await cache.addAll(DELTAGRAD_PRECACHE.map((p) => new Request(urlOf(p), { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith('deltagrad-playground-') && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // a page load (any address under the scope, with or without index.html) is the page
      const hit = request.mode === 'navigate' ? await cache.match(urlOf('./index.html')) : await cache.match(request, { ignoreSearch: true });
      return hit ?? fetch(request);
    })(),
  );
});
