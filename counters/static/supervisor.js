// The supervisor's page: every counter of the center live (display channel), opening,
// closing and handing over counters, the services each counter serves, and the waiting
// tickets (moved between services or counters; those past the center's target highlighted).

import {
  $, $$, LiveFeed, STATES, STATUSES, ServerClock, Session, api, both, catalogue, dayText,
  escapeHtml, explain, idAfter, loadMessages, login, minutes, newKey, say, showNotice,
} from "./common.js";
import { CheckIn } from "./checkin.js";
import { serviceName, tick } from "./counter-view.js";

const session = new Session("qms.supervisor");
const clock = new ServerClock();
const app = { names: null, snap: null, lastId: null, feed: null, busy: false, refreshTimer: null, dialog: null,
  checkIn: null };
// Events after which today's appointments not yet checked in are read again.
const BOOKING_EVENTS = new Set(["issued", "checked_in", "cancelled", "no_show", "day_closed"]);
const center = () => session.data?.center || "";

function show(loggedIn) {
  $("#login-view").hidden = loggedIn;
  $("#center-view").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  // The archive's pages (monitoring/archive_pages.py) reuse this page's login.
  for (const id of ["#reports-link", "#audit-link"]) $(id).hidden = !loggedIn;
  if (loggedIn) $("#audit-link").href = `/audit?center=${encodeURIComponent(center())}`;
  $("#live-status").hidden = !loggedIn;
  $("#who").textContent = loggedIn ? `${session.data.name} (${session.data.username})` : "";
}

function showLogin(message) {
  app.feed?.stop();
  app.feed = null;
  show(false);
  showNotice($("#login-message"), "warn", message);
}

async function submitLogin(event) {
  event.preventDefault();
  try {
    const answer = await login($("#username").value.trim(), $("#password").value);
    if (answer.role !== "supervisor" || !answer.center) {
      showNotice($("#login-message"), "bad", ["Trang này dành cho giám sát viên của trung tâm.",
        "This page is for a center's supervisors."]);
      return;
    }
    session.save(answer);
    await start();
  } catch (error) {
    showNotice($("#login-message"), "bad", explain(error));
  }
}

function expired() {
  session.clear();
  showLogin(["Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại; thao tác vừa rồi chưa được thực hiện.",
    "Your login expired. Log in again; the last action was not done."]);
}

// ------------------------------------------------------------------ state

async function load() {
  try {
    const snap = await api(session, "GET", `/api/v1/centers/${center()}/live?tickets=50`);
    if (app.lastId && idAfter(app.lastId, snap.last_id)) { refreshSoon(); return; }
    app.snap = snap;
    app.lastId = snap.last_id;
    clock.sync(snap.now);
    render();
  } catch (error) {
    if (error.status === 401) expired();
    else showNotice($("#notice"), "bad", explain(error), error.detail);
  }
}

function refreshSoon(delay = 150) {
  clearTimeout(app.refreshTimer);
  app.refreshTimer = setTimeout(load, delay);
}

function applyEvent(event, id) {
  if (!app.snap || (app.lastId && !idAfter(id, app.lastId))) return;
  app.lastId = id;
  const view = event.counter;
  const c = view && app.snap.counters.find((x) => x.id === view.id);
  if (c) {
    Object.assign(c, { state: view.state, staff: view.staff, ticket: view.ticket, reason: view.reason,
      since: view.since, services: Array.isArray(view.services) ? view.services.join(",") : view.services });
    if (!c.ticket) delete c.current;
    else if (event.ticket?.id === c.ticket) c.current = { ...event.ticket };
  }
  for (const [service, waiting] of Object.entries(event.waiting || {})) {
    const row = app.snap.services.find((s) => s.id === service);
    if (row) row.waiting = waiting;
  }
  if (event.totals) app.snap.totals = event.totals;
  if (event.type === "day_closed") {
    // The engine closed the center's day: every counter closed, the waiting tickets expired,
    // the unused bookings lapsed. Read the center again and say so.
    const info = event.info || {};
    showNotice($("#notice"), "warn", say("day_closed_staff", { ...info, day: dayText(info.day) }));
    document.body.dataset.dayClosed = info.day || "1";
    refreshSoon(0);
  } else if (["issued", "called", "checked_in"].includes(event.type)) {
    delete document.body.dataset.dayClosed;
  }
  if (["issued", "called", "transferred", "cancelled", "checked_in", "requeued", "expired",
    "no_show"].includes(event.type)) refreshSoon();
  if (BOOKING_EVENTS.has(event.type) && (event.type !== "issued" || event.ticket?.status === "booked")) {
    app.checkIn?.refresh();
  }
  render();
}

async function start() {
  show(true);
  app.checkIn ||= new CheckIn({ root: $("#checkin-box"), session, center, names: app.names,
    onExpired: expired, onDone: () => refreshSoon(0) });
  $("#checkin-help").textContent = say("checkin_staff_help")[0];
  $("#checkin-today").innerHTML = `${escapeHtml(say("checkin_staff_today")[0])} <span class="en">/ ${escapeHtml(say("checkin_staff_today")[1])}</span>`;
  app.checkIn.refresh();
  await load();
  app.feed?.stop();
  app.feed = new LiveFeed({
    channel: `display/${center()}`, token: session.token,
    // The display channel's snapshot has counts only: read the lists over HTTP.
    onSnapshot: () => refreshSoon(0),
    onEvent: applyEvent,
    onStatus: (state) => { $("#live-status").dataset.state = state; },
    onAuthError: expired,
    onRefused: (reason) => showNotice($("#notice"), "bad", ["Kênh trực tiếp bị từ chối.", "Live feed refused."], reason),
  });
  app.feed.lastId = app.lastId;
  app.feed.start();
}

// ------------------------------------------------------------------ rendering

function counterRow(c) {
  const state = STATES[c.state] || [c.state, c.state];
  const reason = c.state === "paused" ? app.names.reason[c.reason] : null;
  const paused = reason ? `<div class="reason">${both([reason.name, reason.name_en])} · <span data-since="${c.since}"></span></div>` : "";
  const t = c.current;
  const current = t ? `<b class="tnum">${escapeHtml(t.number)}</b> ${both(STATUSES[t.status] || [t.status, t.status])}
      · <span data-since="${t.started || t.called}"></span>` : "—";
  const services = String(c.services || "").split(",").filter(Boolean)
    .map((id) => `<span class="chip">${escapeHtml(serviceName(app.names, id))}</span>`).join(" ");
  const ops = c.state === "closed"
    ? `<button type="button" class="primary small" data-op="open">Mở quầy <span class="en">/ Open</span></button>`
    : `<button type="button" class="small" data-op="handover">Bàn giao <span class="en">/ Hand over</span></button>
       <button type="button" class="small" data-op="close">Đóng <span class="en">/ Close</span></button>`;
  return `<tr data-counter="${escapeHtml(c.id)}" class="row-${escapeHtml(c.state)}">
    <td><b>${escapeHtml(c.name || c.id)}</b></td>
    <td><span class="state state-${escapeHtml(c.state)}">${both(state)}</span>${paused}</td>
    <td class="staff">${escapeHtml(c.staff || "—")}</td>
    <td class="current-ticket">${current}${counterQueue(c)}</td>
    <td>${services}</td>
    <td class="ops">${ops}
      <button type="button" class="small" data-op="services">Dịch vụ <span class="en">/ Services</span></button></td>
  </tr>`;
}

// Tickets waiting for this counter in particular (transferred or moved to it): shown where the
// supervisor looks for the counter, and movable like any waiting ticket.
function counterQueue(c) {
  const rows = (c.tickets || []).map((r) => `<li data-ticket="${escapeHtml(r.id)}"><b class="tnum">${escapeHtml(r.number)}</b>
      ${escapeHtml(serviceName(app.names, r.service))}
      <button type="button" class="small" data-move="${escapeHtml(r.id)}">Chuyển <span class="en">/ Move</span></button></li>`).join("");
  const count = Number(c.queued) || (c.tickets || []).length;
  if (!count) return "";
  const warn = c.state !== "open" ? ` <span class="state state-${escapeHtml(c.state)}">${both(["quầy không mở!", "counter not open!"])}</span>` : "";
  return `<div class="counter-queue" data-queued="${count}">${both([`${count} số chờ riêng quầy này`, `${count} waiting for this counter`])}${warn}
    <ol>${rows}</ol></div>`;
}

function queueCard(s, target) {
  const rows = (s.tickets || []).map((r) => `<li data-ticket="${escapeHtml(r.id)}" data-since="${r.arrived}" data-target="${target}">
      <b class="tnum">${escapeHtml(r.number)}</b>
      ${r.priority ? `<span class="badge prio">${escapeHtml(app.names.priority[r.priority]?.name || r.priority)}</span>` : ""}
      <span class="wait" data-since="${r.arrived}" data-target="${target}"></span>
      <button type="button" class="small" data-move="${escapeHtml(r.id)}">Chuyển <span class="en">/ Move</span></button></li>`).join("");
  const more = s.waiting > (s.tickets || []).length ? `<li class="more">… ${s.waiting - s.tickets.length} số khác / more</li>` : "";
  return `<section class="card queue" data-service="${escapeHtml(s.id)}">
    <h3>${escapeHtml(serviceName(app.names, s.id))} <span class="count">${s.waiting}</span></h3>
    <div class="longest">Chờ lâu nhất <span class="en">/ Longest wait</span>:
      ${s.waiting && s.oldest ? `<span data-since="${s.oldest}" data-target="${target}"></span>` : "—"}
      · ${s.load?.active ?? 0} quầy mở <span class="en">/ open counters</span></div>
    <ol>${rows}${more}</ol></section>`;
}

function render() {
  const snap = app.snap;
  if (!snap) return;
  $("#where").textContent = snap.name;
  $("#counter-rows").innerHTML = snap.counters.map(counterRow).join("");
  $("#queues").innerHTML = snap.services.map((s) => queueCard(s, snap.target_s)).join("");
  for (const b of $$("#center-view button[data-op], #center-view button[data-move]")) b.disabled = app.busy;
  everySecond();
}

function everySecond() {
  const snap = app.snap;
  if (!snap) return;
  const now = clock.now();
  const count = (state) => snap.counters.filter((c) => c.state === state).length;
  const over = snap.services.flatMap((s) => (s.tickets || []).map((t) => ({ ...t, service: s.id })))
    .filter((t) => (now - t.arrived) / 1000 > snap.target_s).sort((a, b) => a.arrived - b.arrived);
  $("#summary").innerHTML = [
    [["Đang chờ", "Waiting"], snap.totals?.waiting ?? 0],
    [["Quầy mở", "Open"], count("open")], [["Tạm dừng", "Paused"], count("paused")],
    [["Đóng", "Closed"], count("closed")], [["Mục tiêu chờ", "Wait target"], minutes(snap.target_s)],
    [["Quá mục tiêu", "Over target"], `<span id="over-count" class="${over.length ? "alarm" : ""}">${over.length}</span>`],
  ].map(([label, value]) => `<div class="figure"><div>${both(label)}</div><b>${value}</b></div>`).join("");
  $("#over-card").hidden = !over.length;
  $("#over-list").innerHTML = over.map((t) => `<li class="over"><b class="tnum">${escapeHtml(t.number)}</b>
    ${escapeHtml(serviceName(app.names, t.service))} · <span data-since="${t.arrived}"></span></li>`).join("");
  tick(now);
}

// ------------------------------------------------------------------ acting

async function perform(method, path, body, success) {
  if (app.busy) return;
  app.busy = true;
  render();
  try {
    await api(session, method, path, { body, key: newKey() });
    showNotice($("#notice"), "ok", success);
  } catch (error) {
    if (error.status === 401) { expired(); return; }
    showNotice($("#notice"), "bad", explain(error), error.detail);
  } finally {
    app.busy = false;
    refreshSoon(0);
  }
}

// The counters' own waiting counts and lists come with the HTTP snapshot (tickets per queue).
const counterPath = (id, op) => `/api/v1/centers/${center()}/counters/${id}/${op}`;

function askStaff(counter, force) {
  app.dialog = { counter, force };
  $("#staff-title").innerHTML = force
    ? both([`Bàn giao ${counter.name} cho nhân viên khác`, `Hand ${counter.name} over to another staff member`])
    : both([`Mở ${counter.name} cho nhân viên`, `Open ${counter.name} for a staff member`]);
  $("#staff-input").value = "";
  $("#staff-dialog").showModal();
}

function editServices(counter) {
  app.dialog = { counter };
  const current = String(counter.services || "").split(",").filter(Boolean);
  const order = [...current, ...app.names.services.map((s) => s.id).filter((id) => !current.includes(id))];
  $("#services-counter").textContent = counter.name;
  $("#services-message").hidden = true;
  $("#services-list").innerHTML = order.map((id) => `<li data-service="${escapeHtml(id)}">
    <label class="choice"><input type="checkbox" value="${escapeHtml(id)}" ${current.includes(id) ? "checked" : ""}>
      ${both([serviceName(app.names, id), app.names.service[id]?.name_en || ""])}</label>
    <button type="button" class="small" data-up title="Lên / Up">▲</button></li>`).join("");
  $("#services-dialog").showModal();
}

function moveTicket(ticketId) {
  const row = app.snap.services.flatMap((s) => s.tickets || [])
    .concat(app.snap.counters.flatMap((c) => c.tickets || [])).find((t) => t.id === ticketId);
  app.dialog = { ticketId, row };
  $("#move-number").textContent = row?.number || ticketId;
  $("#move-service").innerHTML = [`<option value="">— Giữ dịch vụ / Same service —</option>`]
    .concat(app.snap.services.filter((s) => s.id !== row?.service)
      .map((s) => `<option value="${escapeHtml(s.id)}">${escapeHtml(serviceName(app.names, s.id))}</option>`)).join("");
  // A closed or paused counter calls nobody: it is offered only when the supervisor says so
  // (a counter about to open), and marked.
  const inactive = app.snap.counters.some((c) => c.state !== "open");
  const options = (allowInactive) => [`<option value="">— Quầy bất kỳ / Any counter —</option>`]
    .concat(app.snap.counters.map((c) => {
      const off = c.state !== "open";
      const mark = off ? ` (${(STATES[c.state] || [c.state])[0]} / ${(STATES[c.state] || [c.state, c.state])[1]})` : "";
      return `<option value="${escapeHtml(c.id)}" data-state="${escapeHtml(c.state)}" ${off && !allowInactive ? "disabled" : ""}>${escapeHtml(c.name || c.id)}${escapeHtml(mark)}</option>`;
    })).join("");
  $("#move-counter").innerHTML = options(false);
  $("#move-inactive").checked = false;
  $("#move-inactive-row").hidden = !inactive;
  $("#move-inactive").onchange = () => {
    const chosen = $("#move-counter").value;
    $("#move-counter").innerHTML = options($("#move-inactive").checked);
    $("#move-counter").value = chosen;
  };
  $("#move-note").value = "";
  $("#move-message").hidden = true;
  $("#move-dialog").showModal();
}

function bind() {
  $("#login-form").addEventListener("submit", submitLogin);
  $("#logout").onclick = () => { session.clear(); showLogin(null); };
  $("#counter-rows").addEventListener("click", (e) => {
    const move = e.target.closest("button[data-move]");
    if (move && !app.busy) { moveTicket(move.dataset.move); return; }
    const button = e.target.closest("button[data-op]");
    if (!button || app.busy) return;
    const counter = app.snap.counters.find((c) => c.id === button.closest("tr").dataset.counter);
    const op = button.dataset.op;
    if (op === "open") askStaff(counter, false);
    else if (op === "handover") askStaff(counter, true);
    else if (op === "services") editServices(counter);
    else if (op === "close") {
      perform("POST", counterPath(counter.id, "close"), {}, [`Đã đóng ${counter.name}.`, `${counter.name} closed.`]);
    }
  });
  $("#queues").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-move]");
    if (button && !app.busy) moveTicket(button.dataset.move);
  });
  $("#staff-form").addEventListener("submit", (e) => {
    if (e.submitter?.value === "cancel") return;
    const { counter, force } = app.dialog;
    const staff = $("#staff-input").value.trim();
    const done = force ? [`Đã bàn giao ${counter.name} cho ${staff}.`, `${counter.name} handed over to ${staff}.`]
      : [`Đã mở ${counter.name} cho ${staff}.`, `${counter.name} opened for ${staff}.`];
    perform("POST", counterPath(counter.id, "open"), { staff, force }, done);
  });
  $("#services-list").addEventListener("click", (e) => {
    const li = e.target.closest("button[data-up]")?.closest("li");
    if (li?.previousElementSibling) li.parentNode.insertBefore(li, li.previousElementSibling);
  });
  $("#services-form").addEventListener("submit", (e) => {
    if (e.submitter?.value === "cancel") return;
    const chosen = $$("#services-list input:checked").map((i) => i.value);
    if (!chosen.length) {
      e.preventDefault();
      showNotice($("#services-message"), "bad", ["Quầy cần ít nhất một dịch vụ.", "A counter serves at least one service."]);
      return;
    }
    const { counter } = app.dialog;
    perform("PUT", counterPath(counter.id, "services"), { services: chosen },
      [`Đã cập nhật dịch vụ của ${counter.name} (áp dụng từ lần gọi tiếp theo).`, `${counter.name}'s services updated (from its next call).`]);
  });
  $("#move-form").addEventListener("submit", (e) => {
    if (e.submitter?.value === "cancel") return;
    const body = { to_service: $("#move-service").value || null, to_counter: $("#move-counter").value || null,
      note: $("#move-note").value.trim() };
    // A closed or paused counter is the supervisor's explicit choice: the engine refuses it
    // without "force" (target_counter_not_open).
    const target = app.snap.counters.find((c) => c.id === body.to_counter);
    if (target && target.state !== "open" && $("#move-inactive").checked) body.force = true;
    if (!body.to_service && !body.to_counter) {
      e.preventDefault();
      showNotice($("#move-message"), "bad", ["Hãy chọn dịch vụ khác hoặc một quầy.", "Choose another service or a counter."]);
      return;
    }
    const number = app.dialog.row?.number || "";
    perform("POST", `/api/v1/tickets/${app.dialog.ticketId}/move`, body,
      [`Đã chuyển số ${number}.`, `Moved ${number}.`]);
  });
  setInterval(everySecond, 1000);
}

async function boot() {
  bind();
  [app.names] = await Promise.all([catalogue(), loadMessages()]);
  if (!session.valid) {
    const had = Boolean(session.token);
    session.clear();
    showLogin(had ? ["Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.", "Your login expired. Please log in again."] : null);
    return;
  }
  await start();
}

boot();
