// The counter console: log in, take a counter, act on tickets; kept current by the counter's
// WebSocket channel. Every action carries a fresh Idempotency-Key, reused when it is retried
// (network failure, or re-offered after an expired login), and the buttons are disabled while
// a request is in flight, so a double press acts once.

import {
  $, $$, LiveFeed, ServerClock, Session, api, catalogue, dayText, escapeHtml, explain, idAfter,
  loadMessages, login, newKey, say, showNotice,
} from "./common.js";
import { CheckIn, focusCode } from "./checkin.js";
import {
  ACTIONS, allowed, renderButtons, renderCounterState, renderCurrent, renderDay, renderPicker,
  pauseChoices, renderQueues, successMessage, tick, transferOptions,
} from "./counter-view.js";

const session = new Session("qms.session");
const clock = new ServerClock();
const KEYS = { n: "call-next", r: "recall", s: "start", c: "complete", x: "no-show", t: "transfer",
  p: "pause", h: "check-in" };
// Events after which the queue lists are re-read (counts come with the event itself).
const QUEUE_EVENTS = new Set(["issued", "called", "transferred", "cancelled", "checked_in",
  "counter_updated", "requeued", "expired"]);
const DAY_EVENTS = new Set(["completed", "no_show", "rated", "counter_resumed", "counter_closed", "recalled"]);
const app = {
  names: null, counterId: localStorage.getItem("qms.counter") || "", snap: null, lastId: null,
  feed: null, busy: false, pending: null, refreshTimer: null, dayTimer: null,
};

const me = () => session.data?.username || "";
const center = () => session.data?.center || "";
const myCounter = () => app.snap?.counters.find((c) => c.id === app.counterId) || null;
const mayAct = (c) => Boolean(c) && (session.data?.role === "supervisor" || c.staff === me() || c.state === "closed");

function show(view) {
  for (const id of ["login-view", "picker-view", "console-view"]) $(`#${id}`).hidden = id !== view;
  const loggedIn = view !== "login-view";
  $("#logout").hidden = !loggedIn;
  $("#change-counter").hidden = view !== "console-view";
  $("#live-status").hidden = view !== "console-view";
  $("#who").textContent = loggedIn ? `${session.data.name || me()} (${me()})` : "";
  if (view !== "console-view") $("#where").textContent = loggedIn ? app.snap?.name || center() : "";
}

// ------------------------------------------------------------------ login

function showLogin(message) {
  stopLive();
  show("login-view");
  showNotice($("#login-message"), "warn", message);
  $("#password").value = "";
  (me() ? $("#password") : $("#username")).focus();
}

async function submitLogin(event) {
  event.preventDefault();
  const button = $("#login-button");
  button.disabled = true;
  try {
    const answer = await login($("#username").value.trim(), $("#password").value);
    if (!["staff", "supervisor"].includes(answer.role) || !answer.center) {
      showNotice($("#login-message"), "bad", ["Tài khoản này không dùng bàn làm việc quầy.",
        "This account does not work at a counter."]);
      return;
    }
    session.save(answer);
    if (app.pending && app.pending.username !== answer.username) app.pending = null;
    await afterLogin();
  } catch (error) {
    showNotice($("#login-message"), "bad", explain(error));
  } finally {
    button.disabled = false;
  }
}

function expired(action) {
  app.pending = action ? { ...action, username: me() } : null;
  const message = action
    ? [`Phiên đăng nhập đã hết hạn: thao tác “${action.label[0]}” chưa được thực hiện. Hãy đăng nhập lại để thực hiện.`,
      `Your login expired: “${action.label[1]}” was not done. Log in again to do it.`]
    : ["Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.", "Your login expired. Please log in again."];
  $("#username").value = me();
  session.clear();
  showLogin(message);
}

async function afterLogin() {
  const snap = await load();
  if (!snap) return;
  const mine = snap.counters.find((c) => c.id === app.counterId);
  if (mine && mine.state !== "closed" && mine.staff === me()) enterConsole(app.counterId);
  else showPicker();
}

// ------------------------------------------------------------------ reading the center

async function load() {
  try {
    const snap = await api(session, "GET", `/api/v1/centers/${center()}/live?tickets=20`);
    // Not forced: a read that left before an event we already applied (say a no-show that
    // answered first) would put the ticket back in hand; applySnapshot reads again instead.
    applySnapshot(snap);
    return snap;
  } catch (error) {
    if (error.status === 401) expired(null);
    else showNotice($("#notice"), "bad", explain(error), error.detail);
    return null;
  }
}

function applySnapshot(snap, force = false) {
  // An answer older than an event already shown would undo it: read again instead.
  if (!force && app.lastId && idAfter(app.lastId, snap.last_id)) { refreshSoon(); return; }
  app.snap = snap;
  app.lastId = snap.last_id;
  clock.sync(snap.now);
  render();
}

function refreshSoon(delay = 150) {
  clearTimeout(app.refreshTimer);
  app.refreshTimer = setTimeout(load, delay);
}

function mergeCounter(view, ticket, info) {
  const c = app.snap?.counters.find((x) => x.id === view.id);
  if (!c) return;
  const before = { state: c.state, staff: c.staff };
  Object.assign(c, { state: view.state, staff: view.staff, ticket: view.ticket, reason: view.reason,
    since: view.since, services: Array.isArray(view.services) ? view.services.join(",") : view.services });
  if (!c.ticket) delete c.current;
  else if (ticket && ticket.id === c.ticket) c.current = { ...ticket };
  if (c.id === app.counterId && before.staff === me() && c.staff !== me() && !app.busy) {
    const pair = info?.reason === "day_close" ? say("counter_closed_day_close") : c.state === "closed"
      ? ["Quầy đã được đóng (bởi giám sát viên hoặc ở cửa sổ khác).", "The counter was closed (by a supervisor or in another window)."]
      : [`Quầy đã được bàn giao cho ${c.staff}.`, `The counter was handed over to ${c.staff}.`];
    showNotice($("#notice"), "warn", pair);
  }
}

function applyEvent(event, id) {
  if (!app.snap || (app.lastId && !idAfter(id, app.lastId))) return;
  app.lastId = id;
  if (event.counter) mergeCounter(event.counter, event.ticket, event.info);
  for (const [service, waiting] of Object.entries(event.waiting || {})) {
    const row = app.snap.services.find((s) => s.id === service);
    if (row) row.waiting = waiting;
  }
  if (event.type === "day_closed") {
    // The engine closed the center's day: counters closed, the waiting tickets expired. The
    // console reads the center again (empty queues) and says so.
    const info = event.info || {};
    showNotice($("#notice"), "warn", say("day_closed_staff", { ...info, day: dayText(info.day) }));
    document.body.dataset.dayClosed = info.day || "1";
    refreshSoon(0);
    refreshDaySoon();
  } else if (["called", "issued", "checked_in"].includes(event.type)) {
    delete document.body.dataset.dayClosed;
  }
  if (QUEUE_EVENTS.has(event.type)) refreshSoon();
  const mine = event.counter?.id === app.counterId || event.ticket?.staff === me();
  if (mine && DAY_EVENTS.has(event.type)) refreshDaySoon();
  render();
}

function startLive() {
  stopLive();
  app.feed = new LiveFeed({
    channel: `counter/${center()}/${app.counterId}`, token: session.token,
    onSnapshot: (snap) => applySnapshot(snap),
    onEvent: applyEvent,
    onStatus: (state) => { $("#live-status").dataset.state = state; },
    onAuthError: () => expired(null),
    onRefused: (reason) => showNotice($("#notice"), "bad", ["Kênh trực tiếp bị từ chối.", "Live feed refused."], reason),
  });
  app.feed.lastId = app.lastId;
  app.feed.start();
}

function stopLive() {
  app.feed?.stop();
  app.feed = null;
  $("#live-status").dataset.state = "offline";
}

// ------------------------------------------------------------------ views

function showPicker() {
  stopLive();
  show("picker-view");
  $("#counter-list").innerHTML = renderPicker(app.snap, app.names, me());
}

function enterConsole(counterId) {
  app.counterId = counterId;
  localStorage.setItem("qms.counter", counterId);
  show("console-view");
  render();
  startLive();
  refreshDaySoon(0);
  if (app.pending && app.pending.counter === counterId && app.pending.center === center()) reoffer();
}

function render() {
  if (!app.snap) return;
  if (!$("#picker-view").hidden) { $("#counter-list").innerHTML = renderPicker(app.snap, app.names, me()); return; }
  const c = myCounter();
  if (!c) return;
  $("#where").textContent = `${app.snap.name} · ${c.name || `Quầy ${c.id}`}`;
  $("#counter-state").innerHTML = renderCounterState(c, me());
  $("#current").innerHTML = renderCurrent(c, app.names, mayAct(c));
  $("#queues").innerHTML = renderQueues(app.snap, c, app.names);
  renderButtons(c, mayAct(c), app.busy);
  tick(clock.now());
}

function refreshDaySoon(delay = 400) {
  clearTimeout(app.dayTimer);
  app.dayTimer = setTimeout(async () => {
    try {
      $("#my-day").innerHTML = renderDay(await api(session, "GET", "/api/v1/me/day"));
    } catch (error) {
      if (error.status === 401) expired(null);
    }
  }, delay);
}

// ------------------------------------------------------------------ acting

function setBusy(busy) {
  app.busy = busy;
  $("#busy").hidden = !busy;
  renderButtons(myCounter(), mayAct(myCounter()), busy);
}

async function act(name, body = {}) {
  if (app.busy) return;  // a second press while the first is in flight does nothing
  const c = myCounter();
  if (name !== "open" && !allowed(c, mayAct(c))[name]) return;
  await run({ name, body, key: newKey(), label: ACTIONS[name], center: center(), counter: app.counterId });
}

async function run(action) {
  setBusy(true);
  showNotice($("#reoffer"), "warn", null);
  try {
    const path = `/api/v1/centers/${action.center}/counters/${action.counter}/${action.name}`;
    const out = await api(session, "POST", path, { body: action.body, key: action.key });
    if (out.counter) mergeCounter(out.counter, out.ticket);
    showNotice($("#notice"), "ok", successMessage(action.name, out, action.body, app.names));
    refreshSoon();
    refreshDaySoon();
    if (action.name === "close") {
      app.busy = false;
      showPicker();
    }
  } catch (error) {
    if (error.status === 401) { expired(action); return; }
    showNotice($("#notice"), "bad", explain(error), error.detail);
    if ([404, 409].includes(error.status)) refreshSoon(0);
  } finally {
    setBusy(false);
    render();
  }
}

function reoffer() {
  const action = app.pending;
  const box = $("#reoffer");
  box.hidden = false;
  box.className = "notice warn";
  box.innerHTML = `<strong>Thao tác “${escapeHtml(action.label[0])}” chưa được thực hiện khi phiên hết hạn.</strong>
    <span class="en">“${escapeHtml(action.label[1])}” was not done when the login expired.</span>
    <button type="button" class="primary" id="reoffer-do">Thực hiện ngay <span class="en">/ Do it now</span></button>
    <button type="button" class="quiet" id="reoffer-drop">Bỏ qua <span class="en">/ Dismiss</span></button>`;
  $("#reoffer-do").onclick = () => { app.pending = null; run(action); };
  $("#reoffer-drop").onclick = () => { app.pending = null; box.hidden = true; };
}

async function takeCounter(counterId) {
  if (app.busy) return;
  app.busy = true;
  $$("#counter-list button").forEach((b) => { b.disabled = true; });
  try {
    const out = await api(session, "POST", `/api/v1/centers/${center()}/counters/${counterId}/open`,
      { body: {}, key: newKey() });
    if (out.counter) mergeCounter(out.counter, null);
    showNotice($("#picker-message"), "ok", null);
    app.busy = false;
    enterConsole(counterId);
  } catch (error) {
    if (error.status === 401) { expired(null); return; }
    showNotice($("#picker-message"), "bad", explain(error), error.detail);
    await load();
  } finally {
    app.busy = false;
    $$("#counter-list button").forEach((b) => { b.disabled = false; });
  }
}

function press(name) {
  const c = myCounter();
  if (name === "pause" && c?.state === "paused") name = "resume";
  if (app.busy || !allowed(c, mayAct(c))[name]) return;
  if (name === "transfer") return openTransfer();
  if (name === "check-in") return openCheckIn();
  if (name === "pause") return openPause();
  act(name);
}

function openTransfer() {
  const c = myCounter();
  transferOptions(app.snap, c, app.names);
  $("#transfer-number").textContent = c.current?.number || "";
  $("#transfer-note").value = "";
  $("#transfer-message").hidden = true;
  $("#transfer-dialog").showModal();
}

let checkIn = null;
function openCheckIn() {
  checkIn ||= new CheckIn({
    root: $("#checkin-box"), session, center, names: app.names, onExpired: () => expired(null),
    onDone: (out, said) => { showNotice($("#notice"), "ok", said); refreshSoon(); },
  });
  $("#checkin-help").textContent = say("checkin_staff_help")[0];
  $("#checkin-today").innerHTML = `${escapeHtml(say("checkin_staff_today")[0])} <span class="en">/ ${escapeHtml(say("checkin_staff_today")[1])}</span>`;
  showNotice($("#checkin-box [data-checkin-notice]"), "ok", null);
  $("#checkin-dialog").showModal();
  focusCode($("#checkin-box"));
  checkIn.refresh();
}

function openPause() {
  $("#pause-reasons").innerHTML = pauseChoices(app.names);
  $("#pause-dialog").showModal();
  $("#pause-reasons input:checked").focus();
}

function bind() {
  $("#login-form").addEventListener("submit", submitLogin);
  $("#logout").onclick = () => { app.pending = null; session.clear(); showLogin(null); };
  $("#change-counter").onclick = async () => { await load(); showPicker(); };
  $("#counter-list").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-take]");
    if (button) takeCounter(button.dataset.take);
  });
  $("#actions").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "open") act("open");
    else press(button.dataset.action);
  });
  $("#queues").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-call]");
    if (button) act("call", { ticket_id: button.dataset.call });
  });
  $("#transfer-form").addEventListener("submit", (e) => {
    if (e.submitter?.value !== "ok") return;
    const body = { to_service: $("#transfer-service").value || null,
      to_counter: $("#transfer-counter").value || null, note: $("#transfer-note").value.trim() };
    const current = myCounter()?.current;
    if ((!body.to_service || body.to_service === current?.service) && !body.to_counter) {
      e.preventDefault();
      showNotice($("#transfer-message"), "bad", ["Hãy chọn dịch vụ khác hoặc một quầy.",
        "Choose another service or a counter."]);
      return;
    }
    act("transfer", body);
  });
  $("#checkin-close").addEventListener("click", () => $("#checkin-dialog").close());
  $("#pause-form").addEventListener("submit", (e) => {
    if (e.submitter?.value !== "ok") return;
    const reason = $("#pause-reasons input:checked")?.value;
    if (reason) act("pause", { reason });
  });
  $("#pause-dialog").addEventListener("keydown", (e) => {
    const radio = $$("#pause-reasons input")[Number(e.key) - 1];
    if (radio) { radio.checked = true; radio.focus(); }
  });
  // Enter confirms a dialog (the form's default button would be "Cancel", the first one).
  for (const [dialog, ok] of [["#pause-dialog", "#pause-ok"], ["#transfer-dialog", "#transfer-ok"]]) {
    $(dialog).addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.target.closest("textarea, button")) return;
      e.preventDefault();
      $(ok).click();
    });
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || $("#console-view").hidden) return;
    if (document.querySelector("dialog[open]") || e.target.closest?.("input, textarea, select")) return;
    const name = KEYS[e.key.toLowerCase()];
    if (!name) return;
    e.preventDefault();
    press(name);
  });
  setInterval(() => tick(clock.now()), 1000);
  setInterval(() => { if (!$("#console-view").hidden) refreshDaySoon(0); }, 60000);
}

async function boot() {
  bind();
  [app.names] = await Promise.all([catalogue(), loadMessages()]);
  if (!session.valid) {
    const hadLogin = Boolean(session.token);
    if (session.data?.username) $("#username").value = session.data.username;
    session.clear();
    showLogin(hadLogin ? ["Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.", "Your login expired. Please log in again."] : null);
    return;
  }
  await afterLogin();
}

boot();
