// Hamsafar agent console. Customer text is only ever written with textContent.
(function () {
  "use strict";
  var api = "api/";
  var state = { csrf: null, agent: null, selected: null, after: -1, canned: null, timers: [] };
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function request(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = state.csrf || "";
      options.body = JSON.stringify(body || {});
    }
    return fetch(api + path, options).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        data.status = res.status;
        if (res.status === 401 && path !== "login" && path !== "me") showLogin();
        return data;
      });
    });
  }
  function wait(seconds) {
    var s = Math.max(0, seconds | 0);
    return s < 60 ? s + "s" : Math.floor(s / 60) + "m " + (s % 60) + "s";
  }

  // ---------------------------------------------------------------- login
  function showLogin() {
    state.timers.forEach(clearInterval); state.timers = [];
    $("login-view").hidden = false; $("app-view").hidden = true; $("report-view").hidden = true;
    $("logout").hidden = true; $("who").textContent = "";
  }
  function started(data) {
    state.csrf = data.csrf; state.agent = data.agent;
    $("login-view").hidden = true; $("logout").hidden = false;
    $("who").textContent = data.agent.display_name + " (" + data.agent.role + ")";
    if (data.agent.role === "analyst") { startReport(); return; }
    $("app-view").hidden = false;
    if (data.agent.role === "admin") { $("report-view").hidden = false; startReport(); }
    loadCanned(); refreshQueue();
    state.timers.push(setInterval(refreshQueue, 2000));
    state.timers.push(setInterval(refreshConversation, 1500));
  }
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").textContent = "";
    request("POST", "login", { login: $("login-name").value, password: $("login-password").value }).then(function (data) {
      if (data.ok) { $("login-password").value = ""; started(data); }
      else $("login-error").textContent = data.error === "too_many_attempts" ? "Too many attempts; try again later." : "Wrong login or password.";
    });
  });
  $("logout").addEventListener("click", function () { request("POST", "logout").then(showLogin); });

  // ---------------------------------------------------------------- queue
  function refreshQueue() {
    request("GET", "queue").then(function (data) {
      if (!data.ok) return;
      var list = $("queue"); clear(list);
      $("queue-empty").hidden = data.queue.length > 0;
      data.queue.forEach(function (item) {
        var li = el("li", item.id === state.selected ? "selected" : "");
        li.dataset.id = item.id; li.dataset.status = item.status;
        var head = item.status === "waiting" ? "#" + item.position + " waiting " + wait(item.waiting_seconds)
                                             : "with " + (item.agent || "?");
        li.appendChild(el("strong", null, head));
        li.appendChild(el("span", "meta", [item.channel, item.language, item.journey_stage || "-", item.reason || ""].join(" · ")));
        if (item.summary) { var summary = el("span", "summary", item.summary); summary.dir = "auto"; li.appendChild(summary); }
        li.addEventListener("click", function () { select(item.id); });
        list.appendChild(li);
      });
    });
  }

  // ---------------------------------------------------------------- conversation
  function select(id) {
    state.selected = id; state.after = -1;
    clear($("transcript")); clear($("customer")); clear($("notes"));
    $("conversation-error").textContent = "";
    refreshConversation(); loadCustomer(); refreshQueue();
  }
  function renderEvent(ev) {
    var li = el("li", ev.kind);
    li.dataset.kind = ev.kind;
    if (ev.kind === "action" || ev.kind === "system") { li.textContent = "· " + ev.text; return li; }
    var text = el("span", "text", ev.text);
    text.dir = "auto";  // Persian and English lines each in their own direction
    li.appendChild(text);
    var meta = [];
    if (ev.kind === "customer") {
      if (ev.intent) meta.push(ev.intent + (ev.confidence != null ? " " + ev.confidence : ""));
      if (ev.stage) meta.push("stage: " + ev.stage);
      if (ev.sentiment) meta.push("sentiment: " + ev.sentiment.label + (ev.sentiment.frustrated ? " (frustrated)" : ""));
    } else if (ev.kind === "agent") { meta.push("agent " + (ev.agent || "")); } else { meta.push("bot"); }
    li.appendChild(el("span", "meta", meta.join(" · ")));
    return li;
  }
  function refreshConversation() {
    var id = state.selected;
    if (!id) return;
    request("GET", "handoffs/" + id + "?after=" + state.after).then(function (data) {
      if (id !== state.selected) return;
      if (!data.ok) { $("conversation-error").textContent = data.error || "error"; return; }
      var h = data.handoff, mine = h.status === "active" && h.agent === state.agent.login;
      $("conversation-title").textContent = "Conversation " + h.id + " · " + h.channel + " · " + h.language;
      $("conversation-meta").textContent = "status " + h.status + (h.agent ? " · " + h.agent : "") +
        " · stage " + ((data.slots && data.slots.journey_stage) || h.journey_stage || "-") + " · reason " + h.reason;
      $("claim").hidden = h.status !== "waiting";
      $("handback").hidden = !(mine || (h.status === "active" && state.agent.role === "admin"));
      $("close-box").hidden = $("handback").hidden;
      $("reply-form").hidden = !mine; $("note-form").hidden = !(mine || (h.status === "active" && state.agent.role === "admin"));
      var list = $("transcript");
      (data.events || []).forEach(function (ev) { list.appendChild(renderEvent(ev)); state.after = Math.max(state.after, ev.i); });
      if (data.events && data.events.length) list.scrollTop = list.scrollHeight;
      var notes = $("notes"); clear(notes);
      (data.notes || []).forEach(function (n) { notes.appendChild(el("li", null, n.agent + ": " + n.text)); });
      fillCanned(h.language);
    });
  }
  function row(dl, key, value) { dl.appendChild(el("dt", null, key)); dl.appendChild(el("dd", null, value == null ? "-" : value)); }
  function loadCustomer() {
    var id = state.selected;
    request("GET", "handoffs/" + id + "/customer").then(function (data) {
      if (id !== state.selected || !data.ok) return;
      var box = $("customer"); clear(box);
      var dl = el("dl"); box.appendChild(dl);
      row(dl, "customer", data.customer_id || "not identified");
      if (data.profile) { row(dl, "name", data.profile.name); row(dl, "phone", data.profile.phone); row(dl, "email", data.profile.email); row(dl, "language", data.profile.language); }
      row(dl, "journey stage", data.journey.stage); row(dl, "goal", (data.journey.goal || "-") + " " + (data.journey.goal_status || ""));
      if (data.crm_error) box.appendChild(el("p", "error", "CRM unavailable"));
      box.appendChild(el("h3", null, "Orders"));
      var orders = el("ul"); box.appendChild(orders);
      data.orders.forEach(function (o) { orders.appendChild(el("li", null, o.order_id + " · " + o.status + " · " + o.total)); });
      box.appendChild(el("h3", null, "Tickets"));
      var tickets = el("ul"); box.appendChild(tickets);
      data.tickets.forEach(function (t) { tickets.appendChild(el("li", null, t.reference + " · " + t.subject)); });
      box.appendChild(el("h3", null, "Conversations"));
      var convs = el("ul"); box.appendChild(convs);
      data.conversations.forEach(function (c) { convs.appendChild(el("li", null, c.channel + " · " + c.turns + " turns · " + (c.last || "") + (c.current ? " (this one)" : ""))); });
      data.handoffs.forEach(function (hh) { convs.appendChild(el("li", "muted", "handoff " + hh.id + " · " + hh.status + " · " + (hh.requested_at || ""))); });
      box.appendChild(el("h3", null, "Goals"));
      var goals = el("ul"); box.appendChild(goals);
      (data.goals || []).forEach(function (g) { goals.appendChild(el("li", null, g.goal + " · " + g.status + " · " + g.channel + " · " + g.at)); });
    });
  }
  function loadCanned() {
    request("GET", "canned").then(function (data) {
      if (!data.ok) return;
      state.canned = data.canned;
      var select = $("disposition"); clear(select);
      data.dispositions.forEach(function (d) { select.appendChild(el("option", null, d)); });
    });
  }
  function fillCanned(language) {
    var select = $("canned");
    if (!state.canned || select.dataset.lang === language) return;
    select.dataset.lang = language;
    while (select.options.length > 1) select.remove(1);
    (state.canned[language] || []).forEach(function (c) { var o = el("option", null, c.title); o.value = c.text; select.appendChild(o); });
  }
  $("canned").addEventListener("change", function () { if (this.value) $("reply-text").value = this.value; this.selectedIndex = 0; });
  $("claim").addEventListener("click", function () {
    request("POST", "handoffs/" + state.selected + "/claim").then(function (data) {
      $("conversation-error").textContent = data.ok ? "" : (data.error === "already_claimed" ? "Already claimed by " + (data.agent || "another agent") : data.error);
      refreshQueue(); refreshConversation(); loadCustomer();
    });
  });
  $("reply-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-text").value.trim();
    if (!text) return;
    request("POST", "handoffs/" + state.selected + "/reply", { text: text }).then(function (data) {
      if (data.ok) { $("reply-text").value = ""; $("conversation-error").textContent = data.delivered ? "" : "Saved, but the channel could not deliver it."; }
      else $("conversation-error").textContent = data.error;
      refreshConversation();
    });
  });
  $("note-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("note-text").value.trim();
    if (!text) return;
    request("POST", "handoffs/" + state.selected + "/notes", { text: text }).then(function (data) {
      if (data.ok) $("note-text").value = "";
      refreshConversation();
    });
  });
  $("handback").addEventListener("click", function () {
    request("POST", "handoffs/" + state.selected + "/handback").then(function (data) {
      $("conversation-error").textContent = data.ok ? "" : data.error; refreshQueue(); refreshConversation();
    });
  });
  $("close").addEventListener("click", function () {
    request("POST", "handoffs/" + state.selected + "/close", { disposition: $("disposition").value }).then(function (data) {
      $("conversation-error").textContent = data.ok ? "" : data.error; refreshQueue(); refreshConversation();
    });
  });

  // ---------------------------------------------------------------- analysts and admins
  function startReport() {
    $("report-view").hidden = false;
    request("GET", "report").then(function (data) { if (data.ok) $("report").textContent = JSON.stringify(data.report, null, 2); });
    if (state.agent.role !== "admin") return;
    $("admin-box").hidden = false;
    request("GET", "agents").then(function (data) {
      if (!data.ok) return;
      var list = $("agents"); clear(list);
      data.agents.forEach(function (a) { list.appendChild(el("li", null, a.login + " · " + a.role + (a.active ? "" : " (inactive)"))); });
    });
  }
  $("agent-form").addEventListener("submit", function (e) {
    e.preventDefault();
    request("POST", "agents", { login: $("agent-login").value, display_name: $("agent-name").value,
      role: $("agent-role").value, password: $("agent-password").value }).then(function (data) {
      $("admin-error").textContent = data.ok ? "" : (data.detail || data.error);
      if (data.ok) { $("agent-password").value = ""; startReport(); }
    });
  });

  request("GET", "me").then(function (data) { if (data.ok) started(data); else showLogin(); });
})();
