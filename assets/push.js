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

  async function save(subscription) {
    const response = await fetch("/api/push/subscriptions", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({subscription: subscription.toJSON(), device: deviceName(),
                            previous_endpoint: localStorage.getItem(ENDPOINT_KEY)}),
    });
    if (!response.ok) throw new Error(((await response.json().catch(() => ({}))).error || {}).message || "refused");
    localStorage.setItem(ENDPOINT_KEY, subscription.endpoint);
    return response.json();
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
      const {public_key: key} = await (await fetch("/api/push/vapid-public-key")).json();
      const subscription = await registration.pushManager.getSubscription() ||
        await registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(key)});
      const saved = await save(subscription);
      say(`Push is on for this device (${saved.label}). Send a test from your contact methods.`);
      const refresh = document.getElementById("push-refresh");  // the profile page's list shows the device
      if (refresh) refresh.click();
    } catch (err) {
      say(`Could not turn push on: ${err.message || err}`);
    }
  }

  async function recheck(registration) {
    if (!supported || Notification.permission !== "granted") return;
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {  // once per app start: cheap, and the only way to learn that Chrome renewed it
      try { await save(subscription); } catch (err) { /* signed out, or offline: next time */ }
    }
  }

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
