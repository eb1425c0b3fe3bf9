/* Hamsafar (همسفر) chat widget. Embed with ONE tag:
 *   <script src="https://BOT-HOST/webhooks/web/widget.js" data-lang="fa" defer></script>
 * Optional: data-title, data-customer-id, data-customer-expires, data-customer-signature
 * (a signed identity from the shop's server, checked by the bot).
 * Customer and bot text is ALWAYS rendered with textContent (no HTML parsing).
 */
(function () {
  "use strict";
  if (window.__hamsafarWidget) return;
  window.__hamsafarWidget = true;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    return all[all.length - 1];
  })();
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var data = script.dataset || {};
  var pageLang = (document.documentElement.getAttribute("lang") || "").toLowerCase();
  var lang = (data.lang || (pageLang.indexOf("en") === 0 ? "en" : "fa")) === "en" ? "en" : "fa";
  var T = {
    fa: { title: "همسفر، دستیار فروشگاه", open: "گفتگو با دستیار فروشگاه", close: "بستن گفتگو",
          label: "پیام شما", placeholder: "پیامتان را بنویسید…", send: "ارسال", typing: "همسفر در حال نوشتن است…",
          you: "شما", bot: "همسفر", agent: "پشتیبان", log: "گفتگو", error: "ارسال نشد؛ دوباره تلاش کنید.",
          slow: "کمی آهسته‌تر؛ چند لحظه بعد دوباره بفرستید.", offline: "اتصال قطع شد؛ در حال اتصال دوباره…" },
    en: { title: "Hamsafar shop assistant", open: "Chat with the shop assistant", close: "Close chat",
          label: "Your message", placeholder: "Type your message…", send: "Send", typing: "Hamsafar is typing…",
          you: "You", bot: "Hamsafar", agent: "Agent", log: "Conversation", error: "Not sent; please try again.",
          slow: "Please slow down and try again in a moment.", offline: "Connection lost; reconnecting…" }
  }[lang];
  var identity = data.customerId ? { customer_id: data.customerId, expires: data.customerExpires || "",
                                     signature: data.customerSignature || "" } : null;

  // --- session kept across page loads (history lives on the server) -------------------
  var KEY = "hamsafar.session";
  function newSession() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var session;
  try {
    session = localStorage.getItem(KEY);
    if (!session || !/^[A-Za-z0-9_-]{16,64}$/.test(session)) { session = newSession(); localStorage.setItem(KEY, session); }
  } catch (e) { session = newSession(); }

  // --- DOM (only createElement + textContent) -----------------------------------------------------------
  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    return node;
  }
  var css = el("link", null, { rel: "stylesheet", href: base + "/widget.css" });
  document.head.appendChild(css);

  var root = el("div", "hamsafar-widget", { lang: lang, dir: lang === "fa" ? "rtl" : "ltr" });
  var launcher = el("button", "hs-launcher", { type: "button", "aria-label": T.open, "aria-expanded": "false",
                                               "aria-controls": "hs-panel" });
  launcher.textContent = "💬";
  var panel = el("section", "hs-panel", { id: "hs-panel", role: "dialog", "aria-label": data.title || T.title });
  panel.hidden = true;
  var header = el("div", "hs-header");
  var heading = el("h2");
  heading.textContent = data.title || T.title;
  var closeBtn = el("button", "hs-close", { type: "button", "aria-label": T.close });
  closeBtn.textContent = "×";
  header.appendChild(heading); header.appendChild(closeBtn);
  var log = el("div", "hs-log", { role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": T.log,
                                  tabindex: "0" });
  var typing = el("div", "hs-typing", { "aria-live": "polite" });
  var status = el("div", "hs-status", { role: "status" });
  var form = el("form", "hs-form");
  var inputId = "hs-input-" + session.slice(0, 6);
  var label = el("label", "hs-sr", { "for": inputId });
  label.textContent = T.label;
  var input = el("textarea", "hs-input", { id: inputId, rows: "1", maxlength: "4000", dir: "auto",
                                           placeholder: T.placeholder, autocomplete: "off" });
  var sendBtn = el("button", "hs-send", { type: "submit" });
  sendBtn.textContent = T.send;
  form.appendChild(label); form.appendChild(input); form.appendChild(sendBtn);
  panel.appendChild(header); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(status); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(launcher);

  function mount() { document.body.appendChild(root); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; } else { launcher.focus(); }
    try { sessionStorage.setItem("hamsafar.open", open ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  root.addEventListener("keydown", function (event) { if (event.key === "Escape" && !panel.hidden) setOpen(false); });

  // --- messages, ordered and de-duplicated by seq ---------------------------------------------
  var shown = {};
  var lastSeq = 0;
  var typingTimer = null;
  function setTyping(on) {
    typing.textContent = on ? T.typing : "";
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.textContent = ""; }, 20000);
  }

  function render(message) {
    if (!message || typeof message.seq !== "number" || shown[message.seq]) return;
    shown[message.seq] = true;
    if (message.seq > lastSeq) lastSeq = message.seq;
    var sender = ["customer", "bot", "agent", "system"].indexOf(message.sender) >= 0 ? message.sender : "bot";
    var bubble = el("div", "hs-msg hs-" + sender, { "data-seq": String(message.seq) });
    var who = el("span", "hs-who hs-sr");
    who.textContent = sender === "customer" ? T.you : (sender === "agent" ? T.agent : T.bot) + ":";
    var body = el("span", "hs-text", { dir: "auto" });
    body.textContent = String(message.text || "");
    bubble.appendChild(who); bubble.appendChild(body);
    var buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      var group = el("div", "hs-buttons", { role: "group" });
      buttons.forEach(function (b) {
        var button = el("button", null, { type: "button", dir: "auto" });
        button.textContent = String(b.title || b.payload || "");
        button.addEventListener("click", function () { send({ payload: String(b.payload), title: String(b.title || b.payload) }); });
        group.appendChild(button);
      });
      bubble.appendChild(group);
    }
    if (sender !== "customer") setTyping(false);
    // keep seq order even if a message arrives late
    var next = null;
    for (var i = 0; i < log.children.length; i++) {
      if (Number(log.children[i].getAttribute("data-seq")) > message.seq) { next = log.children[i]; break; }
    }
    log.insertBefore(bubble, next);
    log.scrollTop = log.scrollHeight;
  }

  function loadHistory() {
    return fetch(base + "/history?session_id=" + encodeURIComponent(session) + "&after=" + lastSeq)
      .then(function (r) { return r.json(); })
      .then(function (body) { (body.messages || []).forEach(render); })
      .catch(function () { /* the live stream catches up */ });
  }

  // --- live push: Server-Sent Events with reconnection (or polling) ---------------------------
  var source = null, retry = 1000;
  function connect() {
    if (!window.EventSource) { setInterval(loadHistory, 3000); return; }
    source = new EventSource(base + "/events?session_id=" + encodeURIComponent(session) + "&after=" + lastSeq);
    source.onopen = function () { retry = 1000; status.textContent = ""; };
    source.onmessage = function (event) { try { render(JSON.parse(event.data)); } catch (e) { /* ignore */ } };
    source.addEventListener("typing", function (event) {
      try { setTyping(JSON.parse(event.data).on); } catch (e) { /* ignore */ }
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED || retry > 4000) status.textContent = T.offline;
      source.close();
      setTimeout(function () { loadHistory().then(connect); }, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function send(body) {
    var request = { session_id: session };
    if (body.payload !== undefined) { request.payload = body.payload; request.title = body.title; }
    else request.text = body.text;
    if (identity) request.identity = identity;
    status.textContent = "";
    setTyping(true);
    return fetch(base + "/messages", { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify(request) })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (res) {
        if (res.body && res.body.ok) { render(res.body.message); return true; }
        setTyping(false);
        status.textContent = res.status === 429 ? T.slow : T.error;
        return false;
      })
      .catch(function () { setTyping(false); status.textContent = T.error; return false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }).then(function (ok) { if (!ok && !input.value) input.value = text; });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  loadHistory().then(connect);
  try { if (sessionStorage.getItem("hamsafar.open") === "1") { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); } }
  catch (e) { /* private mode */ }
  window.Hamsafar = { open: function () { setOpen(true); }, close: function () { setOpen(false); }, session: session };
})();
