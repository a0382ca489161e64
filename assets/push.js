// Registers OpsKnight's service worker on every page, and subscribes this device to web push.
//
// "Enable push on this device" (My profile; and a one-time prompt after sign-in on a phone) asks for permission
// from the tap itself, subscribes with the server's VAPID key, and stores the subscription as one of the user's
// push contact methods, named after the device. Chrome never tells a page that its subscription changed, so
// every time the app opens with permission granted the current subscription is sent again (the server updates
// the stored one; the previous endpoint, kept here, lets it replace rather than add).
(function () {
  if (!("serviceWorker" in navigator)) return;
  const ENDPOINT_KEY = "opsknight-push-endpoint";
  const PROMPTED_KEY = "opsknight-push-prompted";
  const supported = "PushManager" in window && "Notification" in window;

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function deviceName() {
    const ua = navigator.userAgent;
    const android = ua.match(/Android [\d.]+; ([^;)]+?)(?: Build\/[^;)]*)?[;)]/);
    const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "Browser";
    if (android && android[1] && android[1] !== "K") return `${android[1].trim()} (${browser})`;
    if (/iPhone/.test(ua)) return `iPhone (${browser})`;
    if (/iPad/.test(ua)) return `iPad (${browser})`;
    const platform = /Mac OS X/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
    return `${browser}${platform ? " on " + platform : ""}`;
  }

  function say(text) {
    const status = document.getElementById("push-status");
    if (status) status.textContent = text;
  }

  async function save(subscription, enable) {
    // enable: the person's tap (stores a new device); otherwise only a device stored before is renewed.
    const response = await fetch("/api/push/subscriptions", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({subscription: subscription.toJSON(), device: deviceName(), enable: Boolean(enable),
                            previous_endpoint: localStorage.getItem(ENDPOINT_KEY)}),
    });
    if (!response.ok) throw new Error(((await response.json().catch(() => ({}))).error || {}).message || "refused");
    const saved = await response.json();
    if (saved.stored) localStorage.setItem(ENDPOINT_KEY, subscription.endpoint);
    return saved;
  }

  async function serverKey() {
    return keyBytes((await (await fetch("/api/push/vapid-public-key")).json()).public_key);
  }

  function sameKey(subscription, key) {
    const current = subscription.options && subscription.options.applicationServerKey;
    if (!current) return true;  // the browser does not tell: trust it
    const a = new Uint8Array(current);
    return a.length === key.length && a.every((byte, i) => byte === key[i]);
  }

  // A subscription made with an older server key (the keys were rotated) can never receive a push: make a new one.
  async function current(registration, key) {
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    return subscription || registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
  }

  async function enable() {
    if (!supported) {
      say("This browser cannot receive push notifications. On an iPhone, add OpsKnight to the home screen first.");
      return;
    }
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
      return;
    }
    try {
      const registration = await navigator.serviceWorker.ready;
      const subscription = await current(registration, await serverKey());
      const saved = await save(subscription, true);
      say(`Push is on for this device (${saved.label}). Send a test from your contact methods.`);
      const refresh = document.getElementById("push-refresh");  // the profile page's list shows the device
      if (refresh) refresh.click();
    } catch (err) {
      say(`Could not turn push on: ${err.message || err}`);
    }
  }

  // Every time the app opens: Chrome never says when the push service renewed a subscription, and site data may
  // have been cleared or the server's key rotated. Only a device this browser enabled before is renewed.
  async function recheck(registration) {
    if (!supported || Notification.permission !== "granted") return;
    try {
      const had = await registration.pushManager.getSubscription();
      if (!had && !localStorage.getItem(ENDPOINT_KEY)) return;  // push was never turned on here
      await save(await current(registration, await serverKey()), false);
    } catch (err) { /* signed out, or offline: next time */ }
  }

  // Signing out: this browser stops receiving the user's pages (someone else may sign in on it next). The click
  // waits for that, then goes on to the sign-out itself.
  let forgotten = false;
  document.addEventListener("click", async (event) => {
    if (forgotten || !event.target.closest("#logout-button")) return;
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = registration && await registration.pushManager.getSubscription();
    if (!subscription) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    try {
      await fetch("/api/push/subscriptions/forget", {method: "POST", headers: {"Content-Type": "application/json"},
                                                     body: JSON.stringify({endpoint: subscription.endpoint})});
      await subscription.unsubscribe();
      localStorage.removeItem(ENDPOINT_KEY);
    } catch (err) { /* offline: the server still removes it when the push service reports it gone */ }
    forgotten = true;
    event.target.closest("#logout-button").click();
  }, true);

  function prompt() {  // once, after sign-in, on a phone-sized screen
    if (!supported || Notification.permission !== "default" || localStorage.getItem(PROMPTED_KEY)) return;
    if (!window.matchMedia("(max-width: 768px)").matches || !document.getElementById("signed-in-name")) return;
    const bar = document.createElement("div");
    bar.id = "push-prompt";
    bar.setAttribute("role", "dialog");
    bar.innerHTML = '<p style="margin:0 0 8px">Get pages on this phone, even when OpsKnight is closed?</p>' +
      '<button id="push-prompt-enable" style="min-height:44px;padding:0 16px;border:0;border-radius:8px;' +
      'background:#3e63dd;color:#fff;font-weight:600">Enable push</button> ' +
      '<button id="push-prompt-later" style="min-height:44px;padding:0 16px;border:0;background:none">Not now</button>';
    Object.assign(bar.style, {position: "fixed", left: "8px", right: "8px", bottom: "8px", zIndex: 60,
      padding: "12px", borderRadius: "12px", background: "var(--gray-2, #fff)", color: "inherit",
      boxShadow: "0 4px 24px rgba(0,0,0,.25)", fontFamily: "system-ui, sans-serif"});
    document.body.appendChild(bar);
    localStorage.setItem(PROMPTED_KEY, "1");
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("#push-enable, #push-prompt-enable")) {
      enable();
      const bar = document.getElementById("push-prompt");
      if (bar) bar.remove();
    } else if (event.target.closest("#push-prompt-later")) {
      document.getElementById("push-prompt").remove();
    }
  });

  navigator.serviceWorker.register("/sw.js", {scope: "/"}).then(async (registration) => {
    await navigator.serviceWorker.ready;
    recheck(registration);
    for (let i = 0; i < 20 && !document.getElementById("signed-in-name"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));  // the signed-in shell renders after the socket
    }
    prompt();
  });
})();
