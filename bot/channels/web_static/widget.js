/* Hamsafar (همسفر) chat widget. Embed with ONE tag:
 *   <script src="https://BOT-HOST/webhooks/web/widget.js" data-lang="fa" defer></script>
 * Optional: data-title, data-customer-id, data-customer-expires, data-customer-signature
 * (a signed identity from the shop's server, checked by the bot).
 * Customer and bot text is ALWAYS rendered with textContent (no HTML parsing).
 * The session token lives only in an HttpOnly cookie set by the bot (never in the page,
 * localStorage or window): page scripts cannot read it (docs/web_sessions.md).
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
          slow: "کمی آهسته‌تر؛ چند لحظه بعد دوباره بفرستید.", offline: "اتصال قطع شد؛ در حال اتصال دوباره…",
          failed: "پیام شما پردازش نشد. متن را نگه داشتیم؛ لطفاً دوباره بفرستید.",
          ended: "نشست شما به پایان رسید؛ گفتگوی تازه‌ای شروع شد. متن را نگه داشتیم؛ دوباره بفرستید.",
          logout: "خروج و فراموشی", loggedOut: "از گفتگو خارج شدید؛ گفتگوی قبلی دیگر در این مرورگر نیست." },
    en: { title: "Hamsafar shop assistant", open: "Chat with the shop assistant", close: "Close chat",
          label: "Your message", placeholder: "Type your message…", send: "Send", typing: "Hamsafar is typing…",
          you: "You", bot: "Hamsafar", agent: "Agent", log: "Conversation", error: "Not sent; please try again.",
          slow: "Please slow down and try again in a moment.", offline: "Connection lost; reconnecting…",
          failed: "Your message could not be processed. We kept the text; please send it again.",
          ended: "Your session ended and a new conversation started. We kept the text; please send it again.",
          logout: "Forget me / log out", loggedOut: "You are logged out; the previous conversation is gone from this browser." }
  }[lang];
  var identity = data.customerId ? { customer_id: data.customerId, expires: data.customerExpires || "",
                                     signature: data.customerSignature || "" } : null;

  // --- the session: an HttpOnly cookie of the bot's origin, sent with every call -------------
  function api(path, options) {
    var init = options || {};
    init.credentials = "include";
    return fetch(base + path, init);
  }
  function postJson(path, body) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
  }

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
  var logoutBtn = el("button", "hs-logout", { type: "button" });
  logoutBtn.textContent = T.logout;
  var tools = el("div", "hs-tools");
  tools.appendChild(logoutBtn); tools.appendChild(closeBtn);
  header.appendChild(heading); header.appendChild(tools);
  var log = el("div", "hs-log", { role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": T.log,
                                  tabindex: "0" });
  var typing = el("div", "hs-typing", { "aria-live": "polite" });
  var status = el("div", "hs-status", { role: "status" });
  var form = el("form", "hs-form");
  var inputId = "hs-input-" + Math.random().toString(36).slice(2, 8);
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

  function retract(seq) {
    var bubble = log.querySelector('[data-seq="' + Number(seq) + '"]');
    if (bubble) log.removeChild(bubble);
    delete shown[seq];
    if (lastSeq >= seq) lastSeq = seq - 1;
  }

  function clearLog() {
    while (log.firstChild) log.removeChild(log.firstChild);
    shown = {}; lastSeq = 0;
  }

  function loadHistory() {
    return api("/history?after=" + lastSeq)
      .then(function (r) { return r.json(); })
      .then(function (body) { (body.messages || []).forEach(render); })
      .catch(function () { /* the live stream catches up */ });
  }

  // start (or resume) the session; `fresh`: the old one ended, show the conversation from scratch
  var starting = null;
  function startSession(fresh) {
    if (starting) return starting;
    var request = { lang: lang };
    if (identity) request.identity = identity;
    starting = postJson("/session", request)
      .then(function () { if (fresh) clearLog(); return loadHistory(); })
      .then(function () { if (source) { source.close(); source = null; } connect(); })
      .catch(function () { status.textContent = T.offline; setTimeout(function () { starting = null; startSession(fresh); }, 3000); })
      .then(function () { starting = null; });
    return starting;
  }

  // --- live push: Server-Sent Events with reconnection (or polling) ---------------------------
  var source = null, retry = 1000;
  function connect() {
    if (!window.EventSource) { setInterval(loadHistory, 3000); return; }
    var mine = source = new EventSource(base + "/events?after=" + lastSeq, { withCredentials: true });
    mine.onopen = function () { retry = 1000; if (status.textContent === T.offline) status.textContent = ""; };
    mine.onmessage = function (event) { try { render(JSON.parse(event.data)); } catch (e) { /* ignore */ } };
    mine.addEventListener("typing", function (event) {
      try { setTyping(JSON.parse(event.data).on); } catch (e) { /* ignore */ }
    });
    mine.addEventListener("retract", function (event) {
      try { retract(JSON.parse(event.data).seq); } catch (e) { /* ignore */ }
    });
    mine.addEventListener("ended", function () {  // expired or logged out elsewhere: start afresh
      mine.close();
      if (source === mine) source = null;
      startSession(true);
    });
    mine.onerror = function () {
      if (source !== mine) { mine.close(); return; }
      if (mine.readyState === EventSource.CLOSED || retry > 4000) status.textContent = T.offline;
      mine.close();
      source = null;
      setTimeout(function () { if (!source && !starting) loadHistory().then(function () { if (!source) connect(); }); }, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function send(body) {
    var request = {};
    if (body.payload !== undefined) { request.payload = body.payload; request.title = body.title; }
    else request.text = body.text;
    status.textContent = "";
    setTyping(true);
    return Promise.resolve(starting)  // the session cookie first (the page may still be starting it)
      .then(function () { return postJson("/messages", request); })
      .then(function (res) {
        if (res.body && res.body.ok) { render(res.body.message); return true; }
        setTyping(false);
        if (res.status === 401) { startSession(true); status.textContent = T.ended; }
        else if (res.status === 503) status.textContent = T.failed;
        else status.textContent = res.status === 429 ? T.slow : T.error;
        return false;
      })
      .catch(function () { setTyping(false); status.textContent = T.failed; return false; });
  }

  logoutBtn.addEventListener("click", function () {
    identity = null;  // this page's signed identity is not used again after "forget me"
    if (source) { source.close(); source = null; }
    postJson("/logout", {})
      .then(function () { clearLog(); status.textContent = T.loggedOut; return loadHistory(); })
      .then(function () { connect(); })
      .catch(function () { status.textContent = T.error; });
  });

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

  startSession(false);
  try { if (sessionStorage.getItem("hamsafar.open") === "1") { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); } }
  catch (e) { /* private mode */ }
  window.Hamsafar = { open: function () { setOpen(true); }, close: function () { setOpen(false); } };
})();
