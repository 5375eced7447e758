// The denwa demo console. Vanilla JavaScript, no build step, nothing from the internet.
//
// It is three clients at once:
// - the phone: drives the Twilio emulator (/demo/phone/...), like a person with a phone;
// - the chat: shows what the console chat bridge posts (announcements, threads, receipts) and
//   sends replies through the public API (POST /api/calls/{id}/say with a `reference`);
// - the line's state: GET /api/calls (+ messages), and the emulator's legs and webhooks.
// Live updates come from one Server-Sent Events stream, /demo/events.
//
// Every text from callers, chat or TwiML is put in the page with textContent, never as HTML.
"use strict";

const FINAL = new Set(["completed", "busy", "failed", "no-answer", "canceled"]);
const BEHAVIOURS = [
  ["accept", "answers, presses 1"],
  ["answer", "answers, never presses"],
  ["voicemail", "voicemail box"],
  ["busy", "busy"],
  ["no-answer", "does not answer"],
];

const $ = (selector) => document.querySelector(selector);
// The browser's text-to-speech, where there is one.
const voice = window.speechSynthesis || { speaking: false, pending: false, cancel() {}, speak() {} };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clear(node, emptyText) {
  node.replaceChildren();
  if (emptyText) node.append(el("p", "empty", emptyText));
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

const state = {
  config: null,
  lastSeq: 0,
  my: null, // { sid, status }
  heard: new Map(), // emulator call sid -> [Heard]
  legs: new Map(), // emulator call sid -> CallSnapshot
  conferences: new Map(), // friendly name -> Set of call sids
  calls: new Map(), // denwa call id -> { summary, node, thread, announced }
  selected: null, // denwa call id
  replies: new Map(), // reference -> { node, callId, id, state }
  webhooks: [],
  errors: [],
  spokenUpTo: new Map(), // transcript index -> characters already spoken aloud
  replyCounter: 0,
};

// ---------------------------------------------------------------- requests

async function api(method, path, body) {
  const res = await fetch("/api" + path, {
    method,
    headers: { Authorization: "Bearer " + state.config.api_token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  return { status: res.status, data };
}

async function demo(method, path, body) {
  const res = await fetch("/demo" + path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  return { status: res.status, data };
}

// ---------------------------------------------------------------- the phone

function setMyStatus(text, live) {
  const node = $("#my-status");
  node.textContent = text;
  node.classList.toggle("live", !!live);
}

function inCall() {
  return state.my && !FINAL.has(state.my.status);
}

function refreshHandset() {
  const active = inCall();
  $("#dial").disabled = active || !state.config;
  $("#hangup").disabled = !active;
  $("#speak-text").disabled = !active;
  $("#speak-send").disabled = !active;
  for (const key of document.querySelectorAll("#keypad button")) key.disabled = !active;
}

async function dial() {
  const from = $("#from").value.trim();
  const callerName = $("#caller-name").value.trim();
  const to = $("#to").value || state.config.line;
  $("#dial").disabled = true;
  const { status, data } = await demo("POST", "/phone/dial", { from, to, caller_name: callerName || null });
  if (status !== 201) {
    setMyStatus("Could not call: " + (data && data.message), false);
    refreshHandset();
    return;
  }
  state.my = { sid: data.call_sid, status: "queued" };
  state.spokenUpTo.clear();
  voice.cancel();
  renderTranscript();
  state.myLine = to;
  setMyStatus("Calling " + lineName(to) + " " + to + "…", true);
  // The feed may have brought the call's first statuses before this answer.
  const leg = state.legs.get(data.call_sid);
  if (leg) showMyStatus(leg);
  refreshHandset();
}

function showMyStatus(leg) {
  state.my.status = leg.status;
  const live = !FINAL.has(leg.status);
  setMyStatus(live ? "On a call with " + lineName(state.myLine || state.config.line) + " (" + leg.status + ")"
    : "Call ended (" + leg.status + ")", live);
  refreshHandset();
}

async function hangup() {
  if (!state.my) return;
  await demo("POST", "/phone/calls/" + encodeURIComponent(state.my.sid) + "/hangup");
}

function press(digit) {
  if (inCall()) demo("POST", "/phone/calls/" + encodeURIComponent(state.my.sid) + "/press", { digits: digit });
}

async function speak(event) {
  event.preventDefault();
  const text = $("#speak-text").value.trim();
  if (!text || !inCall()) return;
  $("#speak-text").value = "";
  await demo("POST", "/phone/calls/" + encodeURIComponent(state.my.sid) + "/speak", { text });
}

function heardText(h) {
  switch (h.type) {
    case "say": return h.text;
    case "speech": return h.speaker + ": " + h.text;
    case "play": return "♪ " + (h.url ? "audio " + h.url : "audio");
    case "beep": return "♪ beep";
    default: return h.type;
  }
}

function renderTranscript() {
  const list = $("#transcript");
  list.replaceChildren();
  const entries = state.my ? state.heard.get(state.my.sid) || [] : [];
  if (entries.length === 0) list.append(el("li", "empty", state.my ? "…" : "Nothing yet."));
  entries.forEach((h, index) => {
    if (!h) return;
    const partial = (h.type === "say" || h.type === "speech") && !h.complete;
    const item = el("li", "heard " + h.type + (partial ? " partial" : ""), heardText(h));
    item.dataset.index = index;
    list.append(item);
  });
  list.scrollTop = list.scrollHeight;
}

// Speaks what the caller hears, in chunks as the words arrive (the browser's own voice).
function speakAloud() {
  if (!$("#sound").checked || !state.my || voice.speaking || voice.pending) return;
  const entries = state.heard.get(state.my.sid) || [];
  for (let index = 0; index < entries.length; index++) {
    const h = entries[index];
    if (!h || h.type !== "say") continue;
    const done = state.spokenUpTo.get(index) || 0;
    if (h.text.length <= done) continue;
    const words = h.text.slice(done);
    state.spokenUpTo.set(index, h.text.length);
    if (!window.SpeechSynthesisUtterance) return;
    const utterance = new SpeechSynthesisUtterance(words);
    if (h.language) utterance.lang = h.language;
    utterance.onend = speakAloud;
    voice.speak(utterance);
    return;
  }
}

function renderPhones() {
  const list = $("#phones");
  list.replaceChildren();
  for (const phone of state.config.phones) {
    const item = el("li");
    const who = el("div", "who", phone.name || "Phone");
    who.append(" ", el("span", "num", phone.number + (phone.responder ? " · responder" : "")));
    const leg = latestLeg(phone.number);
    const status = leg && !FINAL.has(leg.status) ? leg.status : "idle";
    const badge = el("span", "badge " + status, status === "in-progress" ? "on a call" : status);
    const select = el("select");
    for (const [value, label] of BEHAVIOURS) {
      const option = el("option", null, label);
      option.value = value;
      option.selected = value === phone.behaviour;
      select.append(option);
    }
    select.addEventListener("change", () => setPhone(phone.name, phone.number, select.value));
    item.append(who, badge, select);
    if (!phone.responder) {
      const call = el("button", null, "☎");
      call.title = "The line calls " + phone.number + " (POST /api/calls)";
      call.addEventListener("click", () => api("POST", "/calls", { to: phone.number }));
      item.append(call);
      item.style.gridTemplateColumns = "1fr auto auto auto";
    }
    const heard = leg ? (state.heard.get(leg.sid) || []).filter(Boolean) : [];
    if (heard.length) item.append(el("div", "hears", "hears: " + heardText(heard[heard.length - 1])));
    list.append(item);
  }
}

async function setPhone(name, number, behaviour) {
  const { status, data } = await demo("PUT", "/phone/phones/" + encodeURIComponent(number), { name, behaviour });
  if (status === 200) {
    state.config.phones = data;
    renderPhones();
  } else {
    alert(data && data.message);
  }
}

function latestLeg(number) {
  let found = null;
  for (const leg of state.legs.values()) {
    if (leg.far_end_phone === number && (leg.direction !== "inbound")) found = leg;
  }
  return found;
}

// ---------------------------------------------------------------- the chat

function ensureCall(summary) {
  let call = state.calls.get(summary.id);
  if (!call) {
    const node = el("div", "call-msg");
    node.dataset.callId = summary.id;
    const thread = el("ul", "thread");
    call = { summary, node, thread };
    state.calls.set(summary.id, call);
    node.addEventListener("click", (e) => {
      if (!e.target.closest("a")) select(summary.id);
    });
    const channel = $("#channel");
    const empty = channel.querySelector(".empty");
    if (empty) empty.remove();
    channel.append(node);
    select(summary.id);
  }
  if (summary.line !== undefined) updateSummary(call, summary);
  renderCall(call);
  return call;
}

// The line's events are handled concurrently and the active-call list is polled, so news of a
// call "connected" may reach the page after its end: the end is final, and nothing later takes
// a call out of it (as the Slack and Discord bridges, which re-read the call, never show an
// older state).
function updateSummary(call, fields) {
  if (call.summary.state === "ended" && fields.state !== "ended") return;
  Object.assign(call.summary, fields);
}

function callById(id) {
  return state.calls.get(id) || ensureCall({ id, state: "ringing", from: "?", started_at: Date.now(), joined: [] });
}

// The line's name, with the caller's menu choice (as the Slack and Discord announcements show it).
function lineLabel(s) {
  if (!s.line) return "";
  if (s.menu_choice === "none") return s.line + " (no key pressed)";
  if (s.menu_choice) return s.line + " (pressed " + s.menu_choice + ")";
  return s.line;
}

function renderCall(call) {
  const s = call.summary;
  const node = call.node;
  const author = el("div", "author", "denwa");
  author.append(el("span", "time", time(s.started_at || Date.now())));
  const caller = (s.caller_name ? s.caller_name + " " : "") + s.from;
  const line = lineLabel(s);
  const text = s.direction === "outbound"
    ? "📞 " + (line || "The line") + " is calling " + caller
    : "📞 Incoming call from " + caller + (line ? " on " + line : "");
  const announce = el("div", "announce", text);
  announce.append(el("span", "state-pill " + s.state, s.state));
  const meta = el("div", "meta", [
    s.joined && s.joined.length ? "with " + s.joined.join(", ") : s.state === "ended" ? "nobody joined" : "nobody joined yet",
    (s.messages_spoken || 0) + " spoken",
    (s.speaker_legs || 0) + " speaker legs",
    (s.responder_legs || 0) + " responder legs",
  ].join(" · "));
  node.replaceChildren(author, announce, meta, call.thread);
  node.classList.toggle("selected", state.selected === s.id);
}

function select(id) {
  state.selected = id;
  for (const call of state.calls.values()) call.node.classList.toggle("selected", call.summary.id === id);
  refreshComposer();
  pollQueue();
}

function refreshComposer() {
  const call = state.selected && state.calls.get(state.selected);
  const open = call && call.summary.state !== "ended";
  $("#reply-text").disabled = !open;
  $("#reply-send").disabled = !open;
  $("#reply-target").textContent = call
    ? (open ? "Replying in the thread of the call from " : "The call from ") + call.summary.from + (open ? "" : " has ended.")
    : "Replies go to the selected call's thread.";
}

function threadEvent(callId, className, text) {
  const call = callById(callId);
  const item = el("li", "event " + className, text);
  call.thread.append(item);
  scrollChat();
  return item;
}

// What the caller said (live transcription): a chat message by the caller, as text (never HTML).
function callerSaid(callId, name, text) {
  const call = callById(callId);
  const node = el("li", "caller-said");
  const author = el("span", "author", name || "Caller");
  author.append(el("span", "time", time(Date.now())));
  node.append(author, el("div", "text", text));
  call.thread.append(node);
  scrollChat();
}

function addReply(callId, text, reference) {
  const call = callById(callId);
  const node = el("li", "reply");
  const author = el("span", "author", "you");
  author.append(el("span", "time", time(Date.now())));
  node.append(author, el("div", "text", text));
  const receipt = el("span", "receipt");
  node.lastChild.append(receipt);
  call.thread.append(node);
  const reply = { node, receipt, callId, id: null, state: null };
  state.replies.set(reference, reply);
  setReplyState(reply, "sending");
  scrollChat();
  return reply;
}

const ORDER = ["sending", "queued", "speaking", "spoken", "failed"];

function setReplyState(reply, next, reason) {
  // States only move forward: a late poll must not undo a receipt.
  if (reply.state && ORDER.indexOf(next) < ORDER.indexOf(reply.state)) return;
  reply.state = next;
  reply.node.dataset.state = next;
  reply.receipt.textContent = {
    sending: "⏳ sending",
    queued: "· queued",
    speaking: "· speaking…",
    spoken: "✓ spoken",
    failed: "✗ not spoken" + (reason ? ": " + reason : ""),
  }[next];
}

async function sendReply(event) {
  event.preventDefault();
  const input = $("#reply-text");
  const text = input.value.trim();
  const callId = state.selected;
  if (!text || !callId) return;
  input.value = "";
  const reference = "console-" + (++state.replyCounter) + "-" + Date.now().toString(36);
  const reply = addReply(callId, text, reference);
  const { status, data } = await api("POST", "/calls/" + encodeURIComponent(callId) + "/say", { text, reference });
  if (status === 202) {
    reply.id = data.id;
    setReplyState(reply, "queued");
  } else {
    setReplyState(reply, "failed", data && data.message);
  }
  input.focus();
}

async function onReceipt(item) {
  let reply = state.replies.get(item.reference);
  if (!reply) {
    // Sent by another API client (curl, a script): show it too, with its text.
    const { data } = await api("GET", "/calls/" + encodeURIComponent(item.call_id) + "/messages");
    const message = data && data.messages && data.messages.find((m) => m.id === item.message_id);
    reply = addReply(item.call_id, message ? message.text : "(a message)", item.reference || item.message_id);
    reply.node.querySelector(".author").firstChild.textContent = "API";
  }
  reply.id = item.message_id;
  setReplyState(reply, item.spoken ? "spoken" : "failed", item.reason);
}

function onChat(item) {
  switch (item.type) {
    case "announcement":
    case "call_updated":
      ensureCall(item.call);
      break;
    case "call_ended": {
      const call = ensureCall(item.call);
      const seconds = Math.round(((item.call.ended_at || Date.now()) - item.call.started_at) / 1000);
      threadEvent(item.call.id, "ended", "The call ended (" + seconds + " s, " +
        item.call.messages_spoken + " messages spoken, " +
        (item.call.caller_utterances === null || item.call.caller_utterances === undefined
          ? "" : "the caller said " + item.call.caller_utterances + " things, ") +
        item.call.speaker_legs + " speaker legs).");
      renderCall(call);
      if (state.selected === item.call.id) refreshComposer();
      break;
    }
    case "joined":
      threadEvent(item.call_id, "joined", "→ " + item.name + " joined the call");
      break;
    case "left":
      threadEvent(item.call_id, "left", "← " + item.name + " left the call");
      break;
    case "receipt":
      onReceipt(item);
      break;
    case "voicemail":
      threadEvent(item.call_id, "voicemail", "📼 Voicemail" +
        (item.transcript ? ": “" + item.transcript + "”" : " (transcript to follow)"));
      break;
    case "notice":
      threadEvent(item.call_id, "notice", "⚠ " + item.text);
      break;
    case "escalation":
      threadEvent(item.call_id, "escalation", "📞 " + item.text);
      break;
    case "caller_said":
      for (const text of item.utterances) callerSaid(item.call_id, item.name, text);
      break;
  }
  renderCost();
  pollSoon();
}

// Something happened on the line: refresh the API's view now rather than at the next tick.
let pollTimer = null;
function pollSoon() {
  if (pollTimer) return;
  pollTimer = setTimeout(() => {
    pollTimer = null;
    pollCalls();
    pollQueue();
  }, 150);
}

function scrollChat() {
  const channel = $("#channel");
  channel.scrollTop = channel.scrollHeight;
}

// ---------------------------------------------------------------- the line's state

// The demo's line whose number is `number`, by name.
function lineName(number) {
  const line = (state.config.lines || []).find((l) => l.number === number);
  return line ? line.name : number;
}

// A line's own number: its speaker legs call it from itself.
function isLineNumber(number) {
  return (state.config.lines || [{ number: state.config.line }]).some((l) => l.number === number);
}

function legKind(leg) {
  if (leg.from === leg.to && isLineNumber(leg.from)) {
    return leg.direction === "inbound" ? "speaker leg (joins the conference)" : "speaker leg (speaks)";
  }
  if (leg.direction === "inbound") return "caller " + leg.from;
  const phone = state.config.phones.find((p) => p.number === leg.to);
  return (phone && phone.responder ? "responder " : "outbound to ") + (phone ? phone.name || leg.to : leg.to);
}

function renderLegs() {
  const box = $("#legs");
  const live = [...state.legs.values()].filter((leg) => !FINAL.has(leg.status));
  clear(box);
  if (live.length === 0) box.append(el("p", "empty", "None."));
  const speakers = live.filter((leg) => leg.from === leg.to && isLineNumber(leg.from));
  if (live.length) {
    const table = el("table");
    const head = el("tr");
    for (const h of ["leg", "status", "sid"]) head.append(el("th", null, h));
    table.append(head);
    for (const leg of live) {
      const row = el("tr");
      row.append(el("td", null, legKind(leg)), el("td", null, leg.status), el("td", null, leg.sid.slice(0, 10) + "…"));
      table.append(row);
    }
    box.append(table);
  }
  box.append(el("p", "cost-note", "Speaker legs in flight: " + speakers.length +
    (speakers.length ? " (one self-dialled call carries a whole burst of messages)" : "")));
  for (const [name, sids] of state.conferences) {
    if (sids.size) box.append(el("p", "cost-note", "Conference " + name + ": " + sids.size + " participants"));
  }
}

function renderCost() {
  let speaker = 0, responder = 0, spoken = 0;
  for (const call of state.calls.values()) {
    speaker += call.summary.speaker_legs || 0;
    responder += call.summary.responder_legs || 0;
    spoken += call.summary.messages_spoken || 0;
  }
  const box = $("#cost");
  box.replaceChildren();
  const grid = el("div", "cost");
  for (const [value, label] of [[speaker, "speaker legs"], [responder, "responder legs"], [spoken, "messages spoken"]]) {
    const cell = el("div");
    cell.append(el("b", null, value), el("span", null, label));
    grid.append(cell);
  }
  box.append(grid);
  const perMessage = spoken ? (speaker / spoken).toFixed(2) : "–";
  box.append(el("p", "cost-note", "Speaker legs per spoken message: " + perMessage +
    ". The 2015 hack dialled once per message (" + spoken + " legs), which made the phone bill huge."));
}

function renderWebhooks() {
  const box = $("#webhooks");
  clear(box, state.webhooks.length ? null : "None yet.");
  if (state.errors.length) {
    box.append(el("p", "errors", "Emulator errors: " + state.errors.map((e) => e.code + " " + e.message).join("; ")));
  }
  let opened = 0;
  state.webhooks.slice(-25).reverse().forEach((hook) => {
    const details = el("details", "webhook");
    // The latest TwiML documents open; callbacks answered with an empty 204 stay folded.
    details.open = !!hook.response_body && opened++ < 2;
    const summary = el("summary");
    let path = hook.url;
    try {
      const url = new URL(hook.url);
      path = url.pathname + url.search;
    } catch (e) { /* keep the raw URL */ }
    summary.append(el("span", "code" + (hook.response_status >= 400 || hook.error ? " bad" : ""),
      hook.response_status || "×"), " " + hook.method + " " + path + " ", el("small", null, hook.purpose));
    details.append(summary);
    if (hook.error) details.append(el("p", "errors", hook.error));
    if (hook.response_body) details.append(el("pre", null, hook.response_body));
    box.append(details);
  });
}

async function pollCalls() {
  const { status, data } = await api("GET", "/calls");
  if (status === 200) showActiveCalls(data);
}

// The answer of GET /api/calls, which may have left denwa before a call's end reached the page.
function showActiveCalls(data) {
  const box = $("#calls");
  clear(box, data.calls.length ? null : "None.");
  if (data.calls.length) {
    const table = el("table");
    const head = el("tr");
    for (const h of ["call", "state", "from", "joined", "spoken", "legs"]) head.append(el("th", null, h));
    table.append(head);
    for (const c of data.calls) {
      const row = el("tr");
      row.append(el("td", null, c.id.slice(0, 8) + "…"), el("td", null, c.state), el("td", null, c.from),
        el("td", null, (c.joined || []).join(", ") || "–"), el("td", null, c.messages_spoken),
        el("td", null, c.speaker_legs + " + " + c.responder_legs));
      table.append(row);
      const known = state.calls.get(c.id);
      if (known) {
        updateSummary(known, {
          state: c.state, joined: c.joined, messages_spoken: c.messages_spoken,
          speaker_legs: c.speaker_legs, responder_legs: c.responder_legs,
        });
        renderCall(known);
      }
    }
    box.append(table);
  }
  renderCost();
}

async function pollQueue() {
  const box = $("#queue");
  if (!state.selected) return clear(box, "No call selected.");
  const { status, data } = await api("GET", "/calls/" + encodeURIComponent(state.selected) + "/messages");
  if (status !== 200) return;
  clear(box, data.messages.length ? null : "No messages for this call yet.");
  if (!data.messages.length) return;
  const table = el("table");
  const head = el("tr");
  for (const h of ["message", "from", "state", "tries"]) head.append(el("th", null, h));
  table.append(head);
  for (const m of data.messages) {
    const row = el("tr");
    row.append(el("td", null, m.text), el("td", null, m.source.split(":")[0]),
      el("td", null, m.state + (m.reason ? ": " + m.reason : "")), el("td", null, m.attempts));
    table.append(row);
    const reference = m.source.startsWith("api:") ? m.source.slice(4) : null;
    const reply = reference && state.replies.get(reference);
    if (reply && (m.state === "queued" || m.state === "speaking")) setReplyState(reply, m.state);
  }
  box.append(table);
}

// ---------------------------------------------------------------- the live feed

function onEmulator(entry) {
  const event = entry.event;
  switch (event.type) {
    case "heard": {
      let entries = state.heard.get(event.call_sid);
      if (!entries) state.heard.set(event.call_sid, (entries = []));
      entries[event.index] = event.heard;
      if (state.my && event.call_sid === state.my.sid) {
        renderTranscript();
        speakAloud();
      } else {
        renderPhones();
      }
      break;
    }
    case "call": {
      const kind = event.event.type;
      if (kind === "status" && entry.call) {
        state.legs.set(entry.call.sid, entry.call);
        if (state.my && entry.call.sid === state.my.sid) showMyStatus(entry.call);
        renderLegs();
        renderPhones();
      } else if (kind === "webhook") {
        state.webhooks.push(event.event);
        if (state.webhooks.length > 200) state.webhooks.shift();
        renderWebhooks();
      }
      break;
    }
    case "conference": {
      let sids = state.conferences.get(event.friendly_name);
      if (!sids) state.conferences.set(event.friendly_name, (sids = new Set()));
      if (event.event === "participant-join" && event.call_sid) sids.add(event.call_sid);
      if (event.event === "participant-leave" && event.call_sid) sids.delete(event.call_sid);
      if (event.event === "conference-end") sids.clear();
      renderLegs();
      break;
    }
    case "error":
      state.errors.push(event);
      renderWebhooks();
      break;
  }
}

function connect() {
  const source = new EventSource("/demo/events");
  const pill = $("#connection");
  source.onopen = () => {
    pill.textContent = "live";
    pill.className = "pill";
  };
  source.onerror = () => {
    pill.textContent = "reconnecting…";
    pill.className = "pill warn";
  };
  source.onmessage = (message) => {
    const entry = JSON.parse(message.data);
    if (entry.seq <= state.lastSeq) return;
    state.lastSeq = entry.seq;
    if (entry.source === "chat") onChat(entry.item);
    else if (entry.source === "emulator") onEmulator(entry);
  };
}

// ---------------------------------------------------------------- start

async function main() {
  const res = await fetch("/demo/config");
  state.config = await res.json();
  $("#from").value = state.config.caller;
  $("#dial").textContent = "Call " + state.config.line_name + " " + state.config.line;
  const lines = $("#to");
  for (const line of state.config.lines || []) {
    const option = el("option", null, line.name + " " + line.number);
    option.value = line.number;
    lines.append(option);
  }
  lines.addEventListener("change", () => {
    $("#dial").textContent = "Call " + lineName(lines.value) + " " + lines.value;
  });
  const store = $("#store");
  store.textContent = state.config.store === "redis" ? "store: Redis" : "store: in-memory (not durable)";
  if (state.config.store !== "redis") store.className = "pill warn";

  const keypad = $("#keypad");
  for (const digit of "123456789*0#") {
    const key = el("button", null, digit);
    key.type = "button";
    key.addEventListener("click", () => press(digit));
    keypad.append(key);
  }
  for (const [value, label] of BEHAVIOURS) {
    const option = el("option", null, label);
    option.value = value;
    $("#phone-behaviour").append(option);
  }
  $("#dial").addEventListener("click", dial);
  $("#hangup").addEventListener("click", hangup);
  $("#speak-form").addEventListener("submit", speak);
  $("#reply-form").addEventListener("submit", sendReply);
  $("#sound").addEventListener("change", () => {
    if ($("#sound").checked) speakAloud();
    else voice.cancel();
  });
  $("#add-phone").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = $("#phone-number").value.trim();
    if (number) setPhone($("#phone-name").value.trim(), number, $("#phone-behaviour").value);
  });

  renderPhones();
  renderCost();
  refreshHandset();
  connect();
  setInterval(() => {
    pollCalls();
    pollQueue();
  }, 1000);
}

main();
