// OpsKnight's service worker: shows pushed pages as notifications a person can act on from the lock screen,
// reports back that they were shown (receipts), and serves an offline page when the network is gone.
//
// Where notifications have buttons (Chrome, Edge, Android) they get Acknowledge and Open; Acknowledge POSTs the
// page's single-use link and the notification is replaced by "Acknowledged". Where they have none (Safari/iOS,
// Firefox), a tap opens the acknowledge page, one big button. Open (or a tap where there are buttons) focuses a
// window already on the incident, or opens one.
const CACHE = "opsknight-shell-v1";
const OFFLINE = "/offline.html";
const SHELL = [OFFLINE, "/icons/icon-192.png", "/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  if (event.request.mode !== "navigate") return;  // pages only: the app's own data is live, never cached
  event.respondWith(fetch(event.request).catch(() => caches.match(OFFLINE)));
});

function hasButtons() {
  return typeof Notification !== "undefined" && (Notification.maxActions || 0) > 0;
}

async function report(url, body) {
  if (!url) return;
  for (let attempt = 0; attempt < 3; attempt++) {  // the phone may just be waking up
    try {
      const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify(body)});
      if (response.ok || response.status < 500) return;
    } catch (err) { /* offline for a moment */ }
    await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
  }
}

async function show(page) {
  await self.registration.showNotification(page.title || "OpsKnight", {
    body: page.body || "",
    tag: page.tag,
    renotify: Boolean(page.renotify && page.tag),
    requireInteraction: Boolean(page.requireInteraction),
    icon: "/icons/icon-192.png",
    badge: "/icons/badge-96.png",
    data: page,
    actions: hasButtons() ? (page.actions || []) : [],
  });
  await report(page.receipt_url, {event: "displayed"});
}

self.addEventListener("push", (event) => {
  let page = {};
  try { page = event.data ? event.data.json() : {}; } catch (err) { page = {title: "OpsKnight", body: "New page"}; }
  event.waitUntil(show(page));
});

async function acknowledge(page) {
  // First, and again if the phone's network is only waking up. A link answered "used already" was used by this
  // person already (an earlier try of this tap whose answer was lost, or the acknowledge page): done too.
  let message = "No network: open OpsKnight when you are back online.";
  let done = false;
  for (let attempt = 0; attempt < 3 && !done; attempt++) {
    try {
      const response = await fetch(page.ack_url, {method: "POST", headers: {Accept: "application/json"}});
      const body = await response.json().catch(() => ({}));
      const refusal = (body.error || {}).message || "";
      done = response.ok || /used already/.test(refusal);
      message = done ? (body.message || "Paging has stopped.") : (refusal || "Open the incident to see what happened.");
      if (response.status < 500 && !done) break;  // refused: trying again will not help
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
    }
  }
  await self.registration.showNotification(done ? "Acknowledged" : "Not acknowledged", {
    body: message, tag: page.tag, renotify: false, silent: true, icon: "/icons/icon-192.png",
    data: {...page, acknowledged: done}, actions: hasButtons() ? [{action: "open", title: "Open"}] : [],
  });
}

async function open(url) {
  const target = new URL(url, self.location.origin);
  const windows = await self.clients.matchAll({type: "window", includeUncontrolled: true});
  const same = windows.find((client) => new URL(client.url).pathname === target.pathname);
  if (same) return same.focus();
  for (const client of windows) {  // an app window elsewhere: take it there (only one this worker controls can)
    try {
      const moved = client.navigate ? await client.navigate(target.href) : null;
      if (moved) return moved.focus();
    } catch (err) { /* not ours to navigate */ }
  }
  return self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  const page = event.notification.data || {};
  const action = event.action || "";
  event.notification.close();
  event.waitUntil((async () => {
    const receipt = report(page.receipt_url, {event: "acted", action: action || "tap"});  // alongside, not first
    if (action === "acknowledge" && page.ack_url && !page.acknowledged) {
      await acknowledge(page);
    } else {
      const tapWithoutButtons = !action && !hasButtons() && page.ack_page_url && !page.acknowledged;
      await open(tapWithoutButtons ? page.ack_page_url : (page.url || "/incidents"));
    }
    await receipt;
  })());
});

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// Firefox fires this when the push service renews a subscription (Chrome never does: the page re-checks the
// subscription every time the app opens, see push.js).
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const {public_key: key} = await (await fetch("/api/push/vapid-public-key")).json();
    const subscription = event.newSubscription || await self.registration.pushManager.subscribe(
      {userVisibleOnly: true, applicationServerKey: keyBytes(key)});
    await fetch("/api/push/subscriptions", {  // a renewal: it replaces the old endpoint, never adds a device
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({subscription: subscription.toJSON(), enable: false,
                            previous_endpoint: event.oldSubscription ? event.oldSubscription.endpoint : null}),
    });
  })());
});
