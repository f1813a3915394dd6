/* Shop assistant chat widget: one <script src="https://gateway/widget.js"> embeds it in any page.
 * Served by connectors/web/channel.py (placeholders filled there); no build step, no external assets.
 * Config: data-title, data-color, data-gateway-url, data-open on the script tag, or
 * window.ShopAssistantConfig = {title, color, gatewayUrl, open} (the tag's attributes win).
 * Protocol and fallbacks: connectors/README.md, "Web widget". */
(function () {
  "use strict";
  if (window.__shopAssistantWidget) return; // pasted twice: one widget
  window.__shopAssistantWidget = true;

  var MAX = __MAX_CHARS__;
  var ALLOWED_ORIGINS = __ALLOWED_ORIGINS__;
  var ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  var HISTORY_NOTE = "Earlier messages are not shown.";
  var WELCOME = "Hi! Ask me about an order, a return, shipping, a payment or a product.";
  var STARTERS = ["Where is my order?", "I want to return something", "How much is shipping?", "Recommend a gift"];
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var MAX_PHOTO_BYTES = 8 * 1024 * 1024;
  var TYPING_DELAY_MS = 400; // answers faster than this never show the indicator
  var TYPING_MIN_MS = 700; // once shown, it stays at least this long (no flicker)
  // Refusals worth trying again (with the same client_message_id): a Retry button that counts down retry_after.
  // busy: the gateway's admission control had no turn for it; nothing reached rasa (issue 17).
  var RETRYABLE = {
    rate_limited: true, busy: true, rasa_unavailable: true, transcript_unavailable: true, rasa_error: true,
  };

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');

  // ---------------------------------------------------------------- configuration

  function readConfig() {
    var global = window.ShopAssistantConfig;
    if (!global || typeof global !== "object") global = {};
    var data = (script && script.dataset) || {};
    function pick(attr, name) { return data[attr] !== undefined ? data[attr] : global[name]; }
    var base = script && script.src ? new URL(".", script.src).href : new URL("/", location.href).href;
    var gateway = pick("gatewayUrl", "gatewayUrl") || pick("gateway", "gateway") || base;
    var gatewayUrl;
    try { gatewayUrl = new URL(String(gateway), location.href); } catch (e) { gatewayUrl = new URL(base); }
    if (!/^https?:$/.test(gatewayUrl.protocol)) gatewayUrl = new URL(base);
    if (!/\/$/.test(gatewayUrl.pathname)) gatewayUrl.pathname += "/";
    var open = pick("open", "open");
    var color = String(pick("color", "color") || pick("colour", "colour") || "");
    var title = String(pick("title", "title") || "Shop assistant").slice(0, 80);
    return {
      title: title,
      // only a real CSS colour: the value goes into a custom property, never into markup
      color: color && window.CSS && CSS.supports && CSS.supports("color", color) && !/[;{}]/.test(color) ? color : "",
      gateway: gatewayUrl.href,
      open: open === true || open === "" || open === "true" || open === "1" || open === "open",
    };
  }

  var config = readConfig();
  var gatewayOrigin = new URL(config.gateway).origin;
  if (location.origin !== gatewayOrigin && ALLOWED_ORIGINS.indexOf(location.origin.toLowerCase()) < 0) {
    console.error(
      "Shop assistant: this page's origin " + location.origin + " may not use the chat at " + gatewayOrigin +
      " (add it to GATEWAY_ALLOWED_ORIGINS on the gateway). The widget is not shown."
    );
    return;
  }

  // ---------------------------------------------------------------- storage (survives reloads)

  var memory = {};
  var store = {
    get: function (k) { try { return localStorage.getItem(k); } catch (e) { return memory[k] || null; } },
    set: function (k, v) { try { localStorage.setItem(k, v); } catch (e) { memory[k] = v; } },
    remove: function (k) { try { localStorage.removeItem(k); } catch (e) { delete memory[k]; } },
  };
  var session = {
    get: function (k) { try { return sessionStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { sessionStorage.setItem(k, v); } catch (e) { /* private mode */ } },
    remove: function (k) { try { sessionStorage.removeItem(k); } catch (e) { /* private mode */ } },
  };
  var KEY = "shop-assistant:" + gatewayOrigin + ":";

  function randomId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  var conversationId = store.get(KEY + "conversation");
  if (!conversationId || !ID_RE.test(conversationId)) {
    conversationId = randomId();
    store.set(KEY + "conversation", conversationId);
  }
  // messages sent but not answered yet: resent after a reconnect or a reload (the gateway dedupes)
  var outbox = loadOutbox();
  function loadOutbox() {
    try {
      var v = JSON.parse(store.get(KEY + "outbox:" + conversationId) || "[]");
      return Array.isArray(v) ? v.filter(function (i) { return i && ID_RE.test(i.id) && i.body; }) : [];
    } catch (e) { return []; }
  }
  function saveOutbox() {
    if (outbox.length) store.set(KEY + "outbox:" + conversationId, JSON.stringify(outbox));
    else store.remove(KEY + "outbox:" + conversationId);
  }
  // messages the gateway refused for now (a rate limit, the assistant restarting): kept with a Retry button,
  // also across reloads, until the customer retries them (they never reached the transcript)
  var refusedItems = loadRefused();
  function loadRefused() {
    try {
      var v = JSON.parse(store.get(KEY + "refused:" + conversationId) || "[]");
      return Array.isArray(v) ? v.filter(function (i) { return i && ID_RE.test(i.id) && i.body; }) : [];
    } catch (e) { return []; }
  }
  function saveRefused() {
    if (refusedItems.length) store.set(KEY + "refused:" + conversationId, JSON.stringify(refusedItems));
    else store.remove(KEY + "refused:" + conversationId);
  }

  // ---------------------------------------------------------------- DOM

  var CSS_TEXT = [
    ":host { all: initial; --sa-accent: #1f5fbf; --sa-accent-ink: #fff; --sa-ink: #1d2430; --sa-muted: #5b6473;",
    "  --sa-line: #d9dde3; --sa-bot: #eef1f5; --sa-panel: #fff; --sa-note: #8a4b00;",
    "  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; font-size: 16px; color: var(--sa-ink); }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".launcher { position: fixed; right: 1.25rem; bottom: 1.25rem; z-index: 2147483000; width: 3.5rem; height: 3.5rem;",
    "  border-radius: 50%; border: 0; background: var(--sa-accent); color: var(--sa-accent-ink); cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }",
    ".launcher svg { width: 1.6rem; height: 1.6rem; fill: currentColor; }",
    ".panel { position: fixed; right: 1.25rem; bottom: 5.5rem; z-index: 2147483001; width: 25rem; max-width: calc(100vw - 2.5rem);",
    "  height: min(40rem, calc(100vh - 7rem)); display: flex; flex-direction: column; background: var(--sa-panel);",
    "  border: 1px solid var(--sa-line); border-radius: .9rem; box-shadow: 0 10px 40px rgba(0,0,0,.25); overflow: hidden; }",
    ".header { display: flex; align-items: center; gap: .5rem; padding: .7rem .8rem; background: var(--sa-accent);",
    "  color: var(--sa-accent-ink); }",
    ".header h2 { flex: 1; margin: 0; font-size: 1.05rem; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".header button { font: inherit; font-size: .85rem; background: none; color: inherit; border: 1px solid transparent;",
    "  border-radius: .4rem; padding: .3rem .45rem; cursor: pointer; }",
    ".header button:hover { border-color: currentColor; }",
    ".header .close { font-size: 1.3rem; line-height: 1; padding: .15rem .5rem; }",
    ".confirm { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; margin: 0; padding: .55rem .8rem;",
    "  background: #fff4d6; color: #4d3600; font-size: .9rem; border-bottom: 1px solid var(--sa-line); }",
    ".confirm p { margin: 0; flex: 1 1 100%; }",
    ".confirm button { font: inherit; font-size: .85rem; padding: .35rem .7rem; border-radius: .4rem; cursor: pointer;",
    "  border: 1px solid var(--sa-accent); background: var(--sa-panel); color: var(--sa-accent); }",
    ".confirm button.yes { background: var(--sa-accent); color: var(--sa-accent-ink); }",
    ".connection { margin: 0; padding: .35rem .8rem; font-size: .85rem; background: #fff4d6; color: #6b4a00; }",
    ".connection:empty { display: none; }",
    ".log { flex: 1; overflow-y: auto; overflow-x: hidden; padding: .8rem; display: flex; flex-direction: column; gap: .55rem; }",
    ".msg { max-width: 88%; padding: .5rem .75rem; border-radius: .8rem; line-height: 1.4; font-size: .95rem; }",
    ".msg p { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg a { color: inherit; }",
    ".msg--bot { align-self: flex-start; background: var(--sa-bot); border-bottom-left-radius: .2rem; }",
    ".msg--user { align-self: flex-end; background: var(--sa-accent); color: var(--sa-accent-ink); border-bottom-right-radius: .2rem; }",
    ".msg--user .state { display: block; font-size: .75rem; opacity: .9; margin-top: .15rem; text-align: right; }",
    ".msg--user .retry { font: inherit; font-size: .8rem; margin-top: .3rem; padding: .2rem .6rem; border-radius: .8rem; cursor: pointer;",
    "  border: 1px solid var(--sa-accent-ink); background: transparent; color: var(--sa-accent-ink); }",
    ".msg--note { align-self: center; color: var(--sa-note); font-size: .85rem; text-align: center; padding: .2rem .5rem; }",
    ".msg--hint { align-self: stretch; max-width: none; color: var(--sa-muted); font-size: .9rem; text-align: center; }",
    ".msg img { display: block; max-width: 100%; max-height: 14rem; border-radius: .4rem; margin-top: .3rem; }",
    ".msg--user img { background: rgba(255,255,255,.2); min-width: 4rem; min-height: 3rem; }",
    ".stamp { display: block; font-size: .7rem; opacity: .75; margin-top: .2rem; }",
    ".msg--user .stamp { text-align: right; }",
    ".buttons, .starters { display: flex; flex-wrap: wrap; gap: .4rem; margin-top: .45rem; }",
    ".starters { justify-content: center; }",
    "button.reply, .card button { font: inherit; font-size: .9rem; padding: .4rem .75rem; min-height: 2.25rem; border-radius: 1rem;",
    "  border: 1px solid var(--sa-accent); background: var(--sa-panel); color: var(--sa-accent); cursor: pointer; }",
    "button.reply:hover:not(:disabled), .card button:hover:not(:disabled) { background: var(--sa-accent); color: var(--sa-accent-ink); }",
    "button:disabled { opacity: .55; cursor: default; }",
    ".carousel { position: relative; align-self: stretch; max-width: 100%; }",
    ".cards { list-style: none; margin: 0; padding: .1rem .1rem .5rem; display: flex; gap: .6rem; overflow-x: auto;",
    "  scroll-snap-type: x mandatory; scroll-behavior: smooth; scrollbar-width: thin; }",
    ".card { flex: 0 0 auto; width: min(15rem, 80%); scroll-snap-align: start; border: 1px solid var(--sa-line); border-radius: .7rem;",
    "  padding: .6rem; display: flex; flex-direction: column; gap: .3rem; background: var(--sa-panel); }",
    ".card img { width: 100%; height: 9rem; object-fit: contain; border-radius: .4rem; background: var(--sa-bot); }",
    ".card h3 { margin: 0; font-size: .95rem; line-height: 1.3; }",
    ".card .price { margin: 0; font-weight: 700; }",
    ".card .reason { margin: 0; font-size: .8rem; color: var(--sa-muted); }",
    ".card .actions { margin-top: auto; display: flex; flex-direction: column; gap: .35rem; }",
    ".card .actions button { width: 100%; }",
    ".card a { font-size: .85rem; color: var(--sa-accent); }",
    ".nav { display: flex; align-items: center; justify-content: space-between; gap: .5rem; font-size: .8rem; color: var(--sa-muted); }",
    ".nav button { font: inherit; font-size: 1rem; width: 2rem; height: 2rem; border-radius: 50%; cursor: pointer;",
    "  border: 1px solid var(--sa-line); background: var(--sa-panel); color: var(--sa-ink); }",
    ".rating { align-self: stretch; max-width: none; background: var(--sa-bot); }",
    ".rating fieldset { border: 0; margin: .3rem 0; padding: 0; display: flex; gap: .25rem; }",
    ".rating legend { padding: 0; margin-bottom: .3rem; font-weight: 600; }",
    ".rating label.star { cursor: pointer; font-size: 1.6rem; line-height: 1; color: #b9c0c9; padding: 0 .1rem; }",
    ".rating label.star.on { color: #e0a100; }",
    ".rating input[type=radio] { position: absolute; opacity: 0; width: 1px; height: 1px; }",
    ".rating input[type=radio]:focus-visible + label { outline: 3px solid #f0a500; outline-offset: 2px; border-radius: .3rem; }",
    ".rating textarea { width: 100%; font: inherit; font-size: 16px; padding: .4rem; border: 1px solid var(--sa-line); border-radius: .4rem; resize: vertical; }",
    ".rating .send { margin-top: .4rem; font: inherit; padding: .4rem .9rem; border: 0; border-radius: .5rem;",
    "  background: var(--sa-accent); color: var(--sa-accent-ink); cursor: pointer; }",
    ".typing { min-height: 1.5rem; margin: 0; padding: 0 .9rem; font-size: .85rem; color: var(--sa-muted); }",
    ".dots span { display: inline-block; width: .35rem; height: .35rem; margin-right: .2rem; border-radius: 50%;",
    "  background: var(--sa-muted); }",
    "@media (prefers-reduced-motion: no-preference) {",
    "  .dots span { animation: sa-blink 1.2s infinite both; } .dots span:nth-child(2) { animation-delay: .2s; }",
    "  .dots span:nth-child(3) { animation-delay: .4s; } }",
    "@keyframes sa-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }",
    ".composer { display: flex; gap: .45rem; padding: .6rem .7rem .7rem; border-top: 1px solid var(--sa-line); }",
    ".composer input[type=text] { flex: 1; min-width: 0; font: inherit; font-size: 16px; padding: .55rem .7rem;",
    "  border: 1px solid var(--sa-line); border-radius: .5rem; color: var(--sa-ink); background: #fff; }",
    ".composer button { font: inherit; padding: .55rem 1rem; border: 0; border-radius: .5rem; background: var(--sa-accent);",
    "  color: var(--sa-accent-ink); cursor: pointer; }",
    ".composer button.attach { padding: .55rem .7rem; background: var(--sa-panel); color: var(--sa-accent); border: 1px solid var(--sa-line); }",
    ".composer button.attach svg { width: 1.2rem; height: 1.2rem; fill: currentColor; display: block; }",
    ":focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }",
    ".vh { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; max-width: none; height: 100%; border-radius: 0; border: 0; }",
    "  .composer button { min-height: 2.75rem; }",
    "  :host([data-open]) .launcher { display: none; } }",
  ].join("\n");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (c) { if (c) node.append(c); });
    return node;
  }

  function icon(d) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }
  var CHAT_ICON = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  var CAMERA_ICON = "M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 5a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9zm0 2a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z";

  var host = el("div", { id: "shop-assistant-widget" });
  var root = host.attachShadow({ mode: "open" });
  if (config.color) host.style.setProperty("--sa-accent", config.color);
  try {
    var sheet = new CSSStyleSheet(); // constructed sheets work under the host page's style-src CSP
    sheet.replaceSync(CSS_TEXT);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.append(el("style", { text: CSS_TEXT }));
  }

  var launcher = el("button", {
    type: "button", className: "launcher", "aria-expanded": "false", "aria-controls": "sa-panel",
    "aria-label": "Open chat: " + config.title,
  }, [icon(CHAT_ICON)]);
  var titleEl = el("h2", { id: "sa-title", text: config.title });
  var newButton = el("button", { type: "button", className: "new", text: "New conversation", "aria-controls": "sa-confirm" });
  var closeButton = el("button", { type: "button", className: "close", "aria-label": "Close chat", text: "\u00d7" });
  var confirmYes = el("button", { type: "button", className: "yes", text: "Start a new conversation" });
  var confirmNo = el("button", { type: "button", className: "no", text: "Keep this one" });
  var confirmBar = el("div", { id: "sa-confirm", className: "confirm", role: "group", "aria-labelledby": "sa-confirm-text", hidden: true }, [
    el("p", { id: "sa-confirm-text", text: "Start a new conversation? This one will be cleared from this device." }),
    confirmYes, confirmNo,
  ]);
  var connection = el("p", { className: "connection", role: "status", "aria-live": "polite" });
  var log = el("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("p", { className: "typing", role: "status", "aria-live": "polite" });
  var input = el("input", {
    id: "sa-input", type: "text", autocomplete: "off", maxlength: String(MAX),
    placeholder: "Type your message",
  });
  var fileInput = el("input", { type: "file", accept: PHOTO_TYPES.join(","), hidden: true, tabindex: "-1", "aria-hidden": "true" });
  var attachButton = el("button", { type: "button", className: "attach", "aria-label": "Attach a photo", title: "Attach a photo (a damaged item, a wrong shade)" }, [icon(CAMERA_ICON)]);
  var form = el("form", { className: "composer" }, [
    el("label", { for: "sa-input", className: "vh", text: "Your message" }),
    input, attachButton, fileInput,
    el("button", { type: "submit", text: "Send" }),
  ]);
  var panel = el("section", {
    id: "sa-panel", className: "panel", role: "dialog", "aria-labelledby": "sa-title", hidden: true,
  }, [
    el("div", { className: "header" }, [titleEl, newButton, closeButton]),
    confirmBar, connection, log, typing, form,
  ]);
  root.append(launcher, panel);

  // ---------------------------------------------------------------- rendering

  var nearBottom = true;
  log.addEventListener("scroll", function () { nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80; });
  function scrollDown(force) { if (force || nearBottom) { log.scrollTop = log.scrollHeight; nearBottom = true; } }

  /** Text with http(s) links made clickable; never parsed as HTML. */
  function linkified(text) {
    var p = el("p");
    var last = 0;
    String(text).replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      p.append(document.createTextNode(text.slice(last, offset)));
      var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: url });
      p.append(a);
      last = offset + url.length;
      return match;
    });
    p.append(document.createTextNode(text.slice(last)));
    return p;
  }

  /** An image URL we may load: http(s), or a path on the gateway. */
  function imageUrl(url) {
    if (typeof url !== "string") return null;
    if (/^https?:\/\//i.test(url)) return url;
    if (/^\/(?!\/)/.test(url)) return new URL(url, config.gateway).href;
    return null;
  }
  function linkUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }
  /** The gateway's drawn picture of a product: what a card shows when its own image is missing or broken. */
  function placeholder(sku) {
    return typeof sku === "string" && /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(sku)
      ? new URL("media/products/" + encodeURIComponent(sku) + ".svg", config.gateway).href : null;
  }

  var clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var fullClock = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function stamp(at) {
    var date = at ? new Date(at) : new Date();
    if (isNaN(date.getTime())) return null;
    var sameDay = date.toDateString() === new Date().toDateString();
    return el("time", { className: "stamp", datetime: date.toISOString(), title: fullClock.format(date),
      text: sameDay ? clock.format(date) : fullClock.format(date) });
  }

  function note(text) {
    log.append(el("div", { className: "msg msg--note" }, [el("p", { text: text })]));
    scrollDown(true);
  }
  function hint() {
    var starters = el("div", { className: "starters", role: "group", "aria-label": "Suggestions to start with" });
    STARTERS.forEach(function (text) {
      var b = el("button", { type: "button", className: "reply", text: text });
      b.addEventListener("click", function () { send({ text: text }, text); input.focus(); });
      starters.append(b);
    });
    log.append(el("div", { className: "msg msg--hint", "data-hint": "" }, [el("p", { text: WELCOME }), starters]));
  }
  function clearHint() {
    var h = log.querySelector("[data-hint]");
    if (h) h.remove();
  }

  var STATES = { sending: "Sending\u2026", failed: "Not delivered", sent: "" };
  function renderUser(text, id, state, at, photo) {
    var item = el("div", { className: "msg msg--user", "data-id": id || null }, [
      el("span", { className: "vh", text: "You said: " }),
      el("p", { text: text }),
    ]);
    if (photo) item.append(photo);
    item.append(el("span", { className: "state", text: STATES[state] || "" }));
    if (state !== "sending") item.append(stamp(at));
    log.append(item);
    scrollDown(true);
    return item;
  }
  function markUser(id, state) {
    var item = log.querySelector('[data-id="' + id + '"]');
    if (!item) return;
    item.querySelector(".state").textContent = STATES[state] || "";
    if (state === "sent" && !item.querySelector(".stamp")) item.append(stamp());
  }

  /** Quick replies of the current answer: spent once one is pressed, or once the customer writes anything. */
  function spendReplies() {
    log.querySelectorAll(".buttons button").forEach(function (b) { b.disabled = true; });
  }

  function replyButton(title, payload, group) {
    var b = el("button", { type: "button", className: "reply", text: title });
    b.addEventListener("click", function () {
      if (group) group.querySelectorAll("button").forEach(function (o) { o.disabled = true; });
      send({ payload: payload, title: title }, title);
      input.focus();
    });
    return b;
  }

  function price(product) {
    if (typeof product.price_text === "string" && product.price_text) return product.price_text;
    var amount = Number(product.price);
    if (product.price === undefined || product.price === null || isNaN(amount)) return "";
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: product.currency || "GBP" }).format(amount);
    } catch (e) { return String(product.price) + (product.currency ? " " + product.currency : ""); }
  }

  function cardImage(p) {
    var first = imageUrl(p.image) || placeholder(p.sku);
    if (!first) return null;
    var img = el("img", { src: first, alt: p.title, loading: "lazy", width: "240", height: "144" });
    img.addEventListener("error", function () {
      var fallback = placeholder(p.sku);
      if (fallback && img.src !== fallback) img.src = fallback; // the shop's image host is down: the drawn one
      else img.hidden = true;
    });
    return img;
  }

  function renderCards(products, live) {
    var list = el("ul", { className: "cards", "aria-label": "Suggested products" });
    products.forEach(function (p) {
      if (!p || typeof p !== "object" || typeof p.title !== "string") return;
      var card = el("li", { className: "card" });
      var img = cardImage(p);
      if (img) card.append(img);
      card.append(el("h3", { text: p.title }));
      var shown = price(p);
      if (shown) card.append(el("p", { className: "price", text: shown }));
      if (typeof p.reason === "string" && p.reason) card.append(el("p", { className: "reason", text: p.reason }));
      var actions = el("div", { className: "actions" });
      var buttons = Array.isArray(p.buttons) ? p.buttons : p.payload ? [{ title: "Tell me more", payload: p.payload }] : [];
      buttons.slice(0, 2).forEach(function (b) {
        if (!b || typeof b.title !== "string" || typeof b.payload !== "string") return;
        var button = replyButton(b.title, b.payload, null);
        button.setAttribute("aria-label", b.title + ": " + p.title);
        button.disabled = !live;
        actions.append(button);
      });
      var link = linkUrl(p.url);
      if (link) actions.append(el("a", { href: link, target: "_blank", rel: "noopener noreferrer", text: "View product" }));
      if (actions.childNodes.length) card.append(actions);
      list.append(card);
    });
    if (!list.childNodes.length) return false;
    var count = list.childNodes.length;
    var position = el("span", { "aria-live": "polite" });
    var prev = el("button", { type: "button", "aria-label": "Previous products", text: "\u2039" });
    var next = el("button", { type: "button", "aria-label": "Next products", text: "\u203a" });
    var nav = el("div", { className: "nav" }, [prev, position, next]);
    var carousel = el("div", { className: "carousel", role: "region", "aria-roledescription": "carousel", "aria-label": "Suggested products" }, [list, nav]);
    function step() { var c = list.querySelector(".card"); return c ? c.getBoundingClientRect().width + 10 : 200; }
    function update() {
      var index = Math.min(count, Math.round(list.scrollLeft / step()) + 1);
      var visible = Math.max(1, Math.floor((list.clientWidth + 10) / step()));
      nav.hidden = count <= visible; // everything fits: nothing to scroll
      position.textContent = index + (visible > 1 ? "\u2013" + Math.min(count, index + visible - 1) : "") + " of " + count;
      prev.disabled = list.scrollLeft <= 2;
      next.disabled = list.scrollLeft + list.clientWidth >= list.scrollWidth - 2;
    }
    prev.addEventListener("click", function () { list.scrollBy({ left: -step(), behavior: "smooth" }); });
    next.addEventListener("click", function () { list.scrollBy({ left: step(), behavior: "smooth" }); });
    list.addEventListener("scroll", function () { update(); }, { passive: true });
    log.append(carousel);
    requestAnimationFrame(update);
    if (window.ResizeObserver) new ResizeObserver(update).observe(list);
    return true;
  }

  // ratings: "rating_request" (the assistant's goodbye) or "handoff_resolved" (a person closed a ticket)
  var rated = {}; // subject -> score, from the history and from this page
  var LABELS = ["1 star: poor", "2 stars: not good", "3 stars: okay", "4 stars: good", "5 stars: excellent"];
  function renderRating(subject, ticket) {
    var box = el("div", { className: "msg msg--bot rating", "data-subject": subject });
    if (rated[subject]) {
      box.append(el("p", { text: "Thank you for rating this " + (ticket ? "help" : "chat") + " (" + rated[subject] + " out of 5)." }));
      log.append(box);
      return;
    }
    var name = "sa-rate-" + subject.replace(/[^A-Za-z0-9-]/g, "") + "-" + randomId().slice(0, 6);
    var fieldset = el("fieldset", {}, [el("legend", { text: ticket ? "How did our team do with " + ticket + "?" : "How did I do?" })]);
    var stars = [];
    for (var i = 1; i <= 5; i++) {
      var id = name + "-" + i;
      var radio = el("input", { type: "radio", name: name, id: id, value: String(i) });
      var label = el("label", { for: id, className: "star" }, [
        el("span", { "aria-hidden": "true", text: "\u2605" }), el("span", { className: "vh", text: LABELS[i - 1] }),
      ]);
      stars.push(label);
      fieldset.append(radio, label);
    }
    function paint() {
      var chosen = Number((fieldset.querySelector("input:checked") || {}).value || 0);
      stars.forEach(function (s, k) { s.classList.toggle("on", k < chosen); });
      sendButton.disabled = !chosen;
    }
    fieldset.addEventListener("change", paint);
    var commentId = name + "-comment";
    var comment = el("textarea", { id: commentId, rows: "2", maxlength: "1000", placeholder: "Anything to add? (optional)" });
    var sendButton = el("button", { type: "button", className: "send", text: "Send rating", disabled: true });
    var status = el("p", { role: "status" });
    sendButton.addEventListener("click", function () {
      var chosen = Number((fieldset.querySelector("input:checked") || {}).value || 0);
      if (!chosen) return;
      sendButton.disabled = true;
      var body = { conversation_id: conversationId, score: chosen, client_message_id: randomId() };
      if (comment.value.trim()) body.comment = comment.value.trim();
      if (ticket) body.ticket = ticket;
      fetch(apiUrl("api/web/ratings").href, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (data) { return [r.status, data]; }); })
        .then(function (result) {
          if (result[0] === 201 || result[0] === 409) {
            rated[subject] = result[0] === 201 ? chosen : (rated[subject] || chosen);
            box.replaceChildren(el("p", { text: result[0] === 201 ? "Thank you! You rated this " + chosen + " out of 5." : "Thank you, this was rated already." }));
          } else {
            status.textContent = (result[1] && result[1].error) || "The rating could not be sent. Please try again.";
            sendButton.disabled = false;
          }
        }, function () { status.textContent = "The rating could not be sent (no connection). Please try again."; sendButton.disabled = false; });
    });
    box.append(fieldset, el("label", { for: commentId, className: "vh", text: "Comment" }), comment, sendButton, status);
    log.append(box);
  }

  /** Bot messages of one answer. Product cards replace the per-product messages sent as their fallback
   * (their text, and the picture rasa sends as a message of its own). */
  function renderBotMessages(messages, live, at) {
    var covered = {}, pictures = {}, stamped = false;
    messages.forEach(function (m) {
      if (!m || typeof m !== "object") return;
      var custom = m.custom;
      if (custom && custom.type === "product_cards" && Array.isArray(custom.products)) {
        if (renderCards(custom.products, live)) {
          custom.products.forEach(function (p) {
            if (p && typeof p.text === "string") covered[p.text] = true;
            if (p && typeof p.image === "string") pictures[p.image] = true;
          });
        }
        if (!m.text) return;
      }
      if (custom && (custom.type === "rating_request" || custom.type === "handoff_resolved")) {
        var ticket = typeof custom.ticket === "string" ? custom.ticket : null;
        if (!m.text) { renderRating(ticket || "conversation", ticket); return; }
      }
      if (m.text && covered[m.text]) return;
      var buttons = Array.isArray(m.buttons) ? m.buttons.filter(function (b) {
        return b && typeof b.title === "string" && typeof b.payload === "string";
      }) : [];
      var img = imageUrl(m.image);
      if (img && pictures[m.image] && !m.text && !buttons.length) return; // a card's picture again
      var attachment = typeof m.attachment === "string" ? m.attachment : null;
      if (!m.text && !img && !buttons.length && !attachment) return; // unknown custom payloads: their text comes too
      var item = el("div", { className: "msg msg--bot" }, [el("span", { className: "vh", text: "Assistant says: " })]);
      if (m.text) item.append(linkified(m.text));
      if (img) item.append(el("img", { src: img, alt: m.text ? "" : "Picture from the assistant", loading: "lazy" }));
      if (attachment) item.append(linkUrl(attachment) ? linkified(attachment) : el("p", { text: attachment }));
      if (buttons.length) {
        var group = el("div", { className: "buttons", role: "group", "aria-label": "Suggested replies" });
        buttons.forEach(function (b) {
          var button = replyButton(b.title, b.payload, group);
          button.disabled = !live;
          group.append(button);
        });
        item.append(group);
      }
      if (!stamped) { item.append(stamp(at)); stamped = true; }
      log.append(item);
      if (custom && (custom.type === "rating_request" || custom.type === "handoff_resolved")) {
        renderRating(typeof custom.ticket === "string" ? custom.ticket : "conversation", typeof custom.ticket === "string" ? custom.ticket : null);
      }
    });
    scrollDown();
  }

  // A typing indicator that never flickers: it appears only if the answer takes a moment, and once shown it
  // stays long enough to be read; an answer arriving meanwhile is drawn when it goes.
  var typingTimer = null, typingShownAt = 0, typingOn = false, pendingDraw = [];
  function setTyping(on) {
    if (on) {
      if (typingOn || typingTimer) return;
      typingTimer = setTimeout(function () {
        typingTimer = null;
        typingOn = true;
        typingShownAt = Date.now();
        typing.replaceChildren(
          el("span", { className: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
          document.createTextNode("The assistant is typing\u2026")
        );
      }, TYPING_DELAY_MS);
      return;
    }
    clearTimeout(typingTimer);
    typingTimer = null;
    if (!typingOn) { flushDraws(); return; }
    var wait = TYPING_MIN_MS - (Date.now() - typingShownAt);
    if (wait > 0) { setTimeout(function () { if (!typingTimer) hideTyping(); }, wait); return; }
    hideTyping();
  }
  function hideTyping() {
    if (typingTimer) return; // a new message is already waiting for its answer
    typingOn = false;
    typing.replaceChildren();
    flushDraws();
  }
  function draw(fn) { if (typingOn) pendingDraw.push(fn); else fn(); }
  function flushDraws() { var list = pendingDraw; pendingDraw = []; list.forEach(function (fn) { fn(); }); }

  // ---------------------------------------------------------------- photos

  function photoUrl(id) { return apiUrl("api/web/attachments/" + encodeURIComponent(id)); }
  /** A photo of this conversation, fetched with its id in a header (never in a URL) and shown from memory. */
  function photoImage(photo, localUrl) {
    var img = el("img", { alt: "Your photo", width: photo && photo.width ? String(Math.min(240, photo.width)) : null });
    if (localUrl) { img.src = localUrl; return img; }
    fetch(photoUrl(photo.id).href, { headers: { "X-Conversation-Id": conversationId }, cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.blob(); })
      .then(function (blob) { img.src = URL.createObjectURL(blob); }, function () { img.replaceWith(el("p", { text: "(the photo cannot be shown)" })); });
    return img;
  }

  function sendPhoto(file) {
    if (PHOTO_TYPES.indexOf(file.type) < 0) { note("Please choose a JPEG, PNG or WebP photo."); return; }
    if (file.size > MAX_PHOTO_BYTES) { note("That photo is larger than 8 MB. Please choose a smaller one."); return; }
    clearHint();
    var id = randomId();
    var local = URL.createObjectURL(file);
    renderUser("Photo", id, "sending", null, photoImage(null, local));
    start();
    var upload = function () {
      return fetch(apiUrl("api/web/attachments").href, {
        method: "POST",
        headers: { "Content-Type": file.type, "X-Conversation-Id": conversationId, "X-Client-Message-Id": id },
        body: file,
      });
    };
    upload().then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return [r.status, data]; });
    }).then(function (result) {
      if (result[0] === 201) {
        var shown = result[1].entry && result[1].entry.text;
        var item = log.querySelector('[data-id="' + id + '"] p');
        if (item && shown) item.textContent = shown;
        markUser(id, "sent");
        announce("Photo sent");
      } else {
        markUser(id, "failed");
        note((result[1] && result[1].error) || "The photo could not be sent.");
      }
    }, function () { markUser(id, "failed"); note("The photo could not be sent (no connection). Please try again."); });
  }
  var announcer = el("p", { className: "vh", role: "status", "aria-live": "polite" });
  panel.append(announcer);
  function announce(text) { announcer.textContent = text; }

  // ---------------------------------------------------------------- conversation state

  var answered = {}; // client message ids whose replies are on screen: a replay of them is ignored

  function applyHistory(entries, truncated) {
    log.replaceChildren();
    answered = {};
    rated = {};
    if (truncated) note(HISTORY_NOTE);
    entries.forEach(function (e) { if (e.role === "user" && e.rating && e.rating.subject) rated[e.rating.subject] = e.rating.score; });
    if (!entries.length && !outbox.length && !refusedItems.length) hint();
    var lastUser = -1;
    entries.forEach(function (e, i) { if (e.role === "user") lastUser = i; });
    var known = {};
    var batch = [], batchAt = null;
    function flush(live) { if (batch.length) renderBotMessages(batch, live, batchAt); batch = []; batchAt = null; }
    entries.forEach(function (e, i) {
      if (e.role === "user") {
        flush(false);
        var state = e.status === "failed" ? "failed" : e.status === "pending" ? "sending" : "sent";
        renderUser(e.text || "", e.client_message_id, state, e.at, e.photo && e.photo.id ? photoImage(e.photo) : null);
        if (e.client_message_id) {
          known[e.client_message_id] = e.status;
          if (e.status === "answered") answered[e.client_message_id] = true;
        }
      } else if (e.role === "bot" && e.message) {
        if (!batch.length) batchAt = e.at;
        batch.push(e.message);
      }
      if (i === entries.length - 1) flush(i > lastUser);
    });
    outbox = outbox.filter(function (item) { return known[item.id] !== "answered"; });
    outbox.forEach(function (item) { if (!(item.id in known)) renderUser(item.shown, item.id, "sending"); });
    refusedItems = refusedItems.filter(function (item) { return !(item.id in known); });
    refusedItems.forEach(function (item) { renderRefused(item, null); });
    saveOutbox();
    saveRefused();
    scrollDown(true);
  }

  function deliver(id, messages) {
    var at = new Date().toISOString();
    setTyping(false);
    if (id) {
      if (answered[id]) return; // already on screen (history raced the answer)
      answered[id] = true;
      outbox = outbox.filter(function (item) { return item.id !== id; });
      saveOutbox();
      markUser(id, "sent");
    }
    draw(function () { renderBotMessages(Array.isArray(messages) ? messages : [], true, at); });
  }

  /** A message the gateway refused: kept on screen with a Retry button when trying again can help. */
  function renderRefused(item, frame) {
    var bubble = log.querySelector('[data-id="' + item.id + '"]') || renderUser(item.shown, item.id, "failed");
    bubble.querySelector(".state").textContent = STATES.failed;
    var old = bubble.querySelector(".retry");
    if (old) old.remove();
    var retry = el("button", { type: "button", className: "retry", text: "Retry" });
    retry.setAttribute("aria-label", "Retry sending: " + item.shown);
    var until = item.retryAt || 0;
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left > 0) { retry.disabled = true; retry.textContent = "Retry in " + left + " s"; setTimeout(tick, 1000); }
      else { retry.disabled = false; retry.textContent = "Retry"; }
    }
    tick();
    retry.addEventListener("click", function () {
      refusedItems = refusedItems.filter(function (i) { return i.id !== item.id; });
      saveRefused();
      retry.remove();
      markUser(item.id, "sending");
      queue(item);
    });
    bubble.append(retry);
  }

  function refused(id, frame) {
    setTyping(false);
    var code = frame && frame.code;
    if (id) {
      var item = null;
      outbox = outbox.filter(function (i) { if (i.id === id) item = i; return i.id !== id; });
      saveOutbox();
      if (item && RETRYABLE[code]) {
        item.retryAt = Date.now() + 1000 * Math.max(0, Number(frame.retry_after) || 0);
        refusedItems.push(item);
        saveRefused();
        renderRefused(item, frame);
      } else {
        markUser(id, "failed");
      }
    }
    note((frame && frame.error) || "Something went wrong. Please try again.");
  }

  // ---------------------------------------------------------------- transport

  var usePost = !("WebSocket" in window);
  var socket = null;
  var ready = false; // history received on this socket: the outbox may be flushed
  var attempt = 0;
  var retryTimer = null;
  var started = false;
  // A connection can die without the browser noticing for minutes. While something is unanswered the
  // widget expects a frame: "typing" comes at once for every message, the answer within rasa's timeout
  // (30 s by default). Past the deadline the socket is given up and the outbox resent on a new one.
  var FIRST_FRAME_MS = 10000;
  var ANSWER_MS = 45000;
  var expectBy = 0;
  function expect(ms) { expectBy = outbox.length ? Date.now() + ms : 0; }

  function apiUrl(path) { return new URL(path, config.gateway); }

  function wsUrl() {
    var url = apiUrl("api/web/ws");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("conversation_id", conversationId);
    return url.href;
  }

  function setConnection(text) { connection.textContent = text; }

  function start() {
    if (started) return;
    started = true;
    if (usePost) loadHistoryOverHttp();
    else connect();
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    ready = false;
    var ws;
    try { ws = new WebSocket(wsUrl()); } catch (e) { scheduleReconnect(); return; }
    socket = ws;
    ws.addEventListener("open", function () {
      if (socket !== ws) return;
      ws.send(JSON.stringify({ type: "history" }));
    });
    ws.addEventListener("message", function (event) {
      if (socket !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "history") {
        attempt = 0;
        setConnection("");
        applyHistory(Array.isArray(frame.entries) ? frame.entries : [], frame.truncated);
        ready = true;
        outbox.forEach(function (item) { ws.send(JSON.stringify(item.body)); });
        expect(FIRST_FRAME_MS);
      } else if (frame.type === "typing") {
        setTyping(true);
        expect(ANSWER_MS);
      } else if (frame.type === "bot") {
        deliver(frame.client_message_id, frame.messages);
        expect(ANSWER_MS);
      } else if (frame.type === "error") {
        if (!ready && !frame.client_message_id) {
          abandon(); // the history failed (gateway database down, rate limit): try again with back-off
          return;
        }
        refused(frame.client_message_id, frame);
        expect(ANSWER_MS);
      }
    });
    ws.addEventListener("close", function () {
      if (socket !== ws) return;
      socket = null;
      ready = false;
      expectBy = 0;
      setTyping(false);
      scheduleReconnect();
    });
  }

  /** Give up the current socket (dead, stalled or offline) and reconnect with back-off. */
  function abandon() {
    var old = socket;
    socket = null;
    ready = false;
    expectBy = 0;
    setTyping(false);
    if (old) { try { old.close(); } catch (e) { /* already closing */ } }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    // exponential back-off with jitter: 0.5 s, 1 s, 2 s ... up to 30 s
    var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt = Math.min(attempt + 1, 10);
    setConnection(
      navigator.onLine === false
        ? "You are offline. Reconnecting when the network is back\u2026"
        : "Reconnecting\u2026"
    );
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", function () {
    if (started && !usePost && !socket) { attempt = 0; connect(); }
  });
  window.addEventListener("offline", function () {
    if (socket) abandon(); // whatever the socket says, nothing gets through now
  });
  setInterval(function () {
    if (socket && ready && expectBy && Date.now() > expectBy) abandon();
  }, 1000);

  // Without WebSockets: one POST per message, the history over GET.
  var posting = false;
  function loadHistoryOverHttp() {
    var url = apiUrl("api/web/history");
    url.searchParams.set("conversation_id", conversationId);
    fetch(url.href, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { entries: [] }; })
      .then(function (data) { applyHistory(data.entries || [], data.truncated); postNext(); })
      .catch(function () { applyHistory([], false); setConnection("Reconnecting\u2026"); setTimeout(postNext, 2000); });
  }
  function postNext() {
    if (posting || !outbox.length) return;
    posting = true;
    var item = outbox[0];
    setTyping(true);
    fetch(apiUrl("api/web/messages").href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ conversation_id: conversationId }, item.body)),
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        attempt = 0;
        setConnection("");
        if (response.ok && data) deliver(item.id, data.messages);
        else refused(item.id, data || { error: "Something went wrong (" + response.status + "). Please try again." });
      });
    }, function () {
      setConnection("Reconnecting\u2026"); // network error: keep it in the outbox and retry
      var delay = Math.min(30000, 500 * Math.pow(2, attempt++));
      return new Promise(function (resolve) { setTimeout(resolve, delay); });
    }).then(function () {
      posting = false;
      setTyping(false);
      postNext();
    });
  }

  function send(body, shown) {
    var id = randomId();
    var item = { id: id, body: Object.assign({}, body, { client_message_id: id }), shown: shown };
    clearHint();
    spendReplies(); // the customer moved on: earlier quick replies are answered
    renderUser(shown, id, "sending");
    queue(item);
  }

  /** Put a message in the outbox and send it when the connection allows (new, or retried after a refusal). */
  function queue(item) {
    delete item.retryAt;
    outbox.push(item);
    saveOutbox();
    start();
    if (usePost) postNext();
    else if (socket && socket.readyState === WebSocket.OPEN && ready) {
      socket.send(JSON.stringify(item.body));
      if (!expectBy) expect(FIRST_FRAME_MS); // an answer already awaited keeps its deadline
    }
    // otherwise it goes out when the socket is back and the history has been reconciled
  }

  // ---------------------------------------------------------------- controls

  function isOpen() { return !panel.hidden; }
  function openPanel(focus) {
    panel.hidden = false;
    host.setAttribute("data-open", "");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat: " + config.title);
    session.set(KEY + "open", "1");
    start();
    if (focus) input.focus();
  }
  function closePanel() {
    panel.hidden = true;
    host.removeAttribute("data-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat: " + config.title);
    session.remove(KEY + "open");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (isOpen()) closePanel(); else openPanel(true); });
  closeButton.addEventListener("click", closePanel);
  root.addEventListener("keydown", function (event) { // from the panel or the launcher
    if (event.key === "Escape" && isOpen()) { event.preventDefault(); closePanel(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (text.length > MAX) { note("Please keep messages under " + MAX + " characters."); return; }
    input.value = "";
    send({ text: text }, text);
  });
  // "New conversation" asks first: the old one cannot be brought back on this device.
  function askNew() {
    confirmBar.hidden = false;
    newButton.setAttribute("aria-expanded", "true");
    confirmNo.focus();
  }
  function closeConfirm(focus) {
    confirmBar.hidden = true;
    newButton.setAttribute("aria-expanded", "false");
    if (focus) focus.focus();
  }
  newButton.setAttribute("aria-expanded", "false");
  newButton.addEventListener("click", function () { if (confirmBar.hidden) askNew(); else closeConfirm(newButton); });
  confirmNo.addEventListener("click", function () { closeConfirm(input); });
  confirmBar.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeConfirm(newButton); }
  });
  confirmYes.addEventListener("click", function () {
    closeConfirm(null);
    store.remove(KEY + "outbox:" + conversationId);
    store.remove(KEY + "refused:" + conversationId);
    outbox = [];
    refusedItems = [];
    rated = {};
    conversationId = randomId();
    store.set(KEY + "conversation", conversationId);
    answered = {};
    expectBy = 0;
    setTyping(false);
    log.replaceChildren();
    hint();
    if (!usePost) {
      var old = socket;
      socket = null;
      if (old) old.close();
      attempt = 0;
      connect();
    }
    input.focus();
  });

  function mount() {
    document.body.append(host);
    // any element of the shop's page with data-shop-assistant-ask="..." opens the chat and asks that
    document.addEventListener("click", function (event) {
      var target = event.target && event.target.closest ? event.target.closest("[data-shop-assistant-ask]") : null;
      if (target) { event.preventDefault(); window.ShopAssistant.ask(target.getAttribute("data-shop-assistant-ask")); }
    });
    // open again after a reload or navigation if it was open, when the page asks, or to send what is pending
    if (session.get(KEY + "open") || config.open) openPanel(false);
    else if (outbox.length) start();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  attachButton.addEventListener("click", function () {
    if (!log.querySelector(".msg--user")) {
      note("Tell me first what happened (a damaged item, a wrong shade...), then attach the photo.");
      input.focus();
      return;
    }
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) sendPhoto(file);
    attachButton.focus();
  });

  window.ShopAssistant = {
    open: function () { openPanel(true); },
    close: closePanel,
    /** Open the chat and ask ``text`` (the shop page's "Ask about it" buttons). */
    ask: function (text) {
      if (typeof text !== "string" || !text.trim()) return;
      openPanel(true);
      send({ text: text.trim().slice(0, MAX) }, text.trim().slice(0, MAX));
    },
  };
})();
