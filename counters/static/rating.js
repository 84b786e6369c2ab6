// The satisfaction tablet facing the citizen at /rating/{center}/{counter}: it follows the
// counter's live channel, asks about each ticket completed there, and posts the rating with
// the staff login it was set up with.

import { $, LiveFeed, ServerClock, Session, api, escapeHtml, explain, login, newKey, showNotice } from "./common.js";

const [, , CENTER, COUNTER] = location.pathname.split("/").map(decodeURIComponent);
const session = new Session(`qms.rating.${CENTER}.${COUNTER}`);
const clock = new ServerClock();
const ASK_FOR_MS = 3 * 60 * 1000;   // a completion older than this is not asked about
const THANKS_MS = 5000;
const LEVELS = [
  [1, "Rất không hài lòng", "Very unhappy", "#d64545", 46],
  [2, "Không hài lòng", "Unhappy", "#ef8a3c", 55],
  [3, "Bình thường", "Neutral", "#e8c32e", 64],
  [4, "Hài lòng", "Happy", "#8cc63f", 73],
  [5, "Rất hài lòng", "Very happy", "#2e9e4f", 82],
];
const app = { feed: null, ticket: null, key: null, busy: false, timer: null };

function face(color, mouthY) {
  // The mouth is a curve through (30,64)-(70,64); its control point sets the smile.
  return `<svg viewBox="0 0 100 100" aria-hidden="true"><circle cx="50" cy="50" r="46" fill="${color}"/>
    <circle cx="35" cy="40" r="6" fill="#222"/><circle cx="65" cy="40" r="6" fill="#222"/>
    <path d="M28 66 Q50 ${mouthY} 72 66" stroke="#222" stroke-width="6" fill="none" stroke-linecap="round"/></svg>`;
}

function screen(name) {
  for (const id of ["login-view", "wait-view", "ask-view", "thanks-view"]) $(`#${id}`).hidden = id !== name;
}

function waitNext() {
  clearTimeout(app.timer);
  app.ticket = null;
  screen("wait-view");
}

function ask(ticket) {
  clearTimeout(app.timer);
  app.ticket = ticket;
  app.key = newKey();
  app.busy = false;
  $("#ask-number").textContent = ticket.number;
  $("#ask-message").hidden = true;
  for (const b of document.querySelectorAll(".face")) b.disabled = false;
  screen("ask-view");
  app.timer = setTimeout(waitNext, ASK_FOR_MS);
}

function thanks(note) {
  clearTimeout(app.timer);
  app.ticket = null;
  $("#thanks-note").textContent = note || "";
  screen("thanks-view");
  app.timer = setTimeout(waitNext, THANKS_MS);
}

async function rate(level) {
  if (app.busy || !app.ticket) return;
  app.busy = true;
  for (const b of document.querySelectorAll(".face")) b.disabled = true;
  try {
    await api(session, "POST", `/api/v1/tickets/${encodeURIComponent(app.ticket.id)}/rating`,
      { body: { level }, key: app.key });
    thanks("");
  } catch (error) {
    if (error.status === 401) {
      expired();
    } else if (/already rated/.test(error.detail)) {
      thanks("Số này đã được đánh giá trước đó. / This ticket was already rated.");
    } else {
      showNotice($("#ask-message"), "bad", explain(error), error.detail);
      app.busy = false;
      for (const b of document.querySelectorAll(".face")) b.disabled = false;
    }
  }
}

function onEvent(event, id) {
  localStorage.setItem(`${session.storageKey}.last`, id);
  if (event.counter?.id !== COUNTER && event.ticket?.counter !== COUNTER) return;
  if (event.type === "completed" && event.counter?.id === COUNTER) {
    if (clock.now() - (event.at || 0) < ASK_FOR_MS) ask(event.ticket);
  } else if (event.type === "rated" && event.ticket?.id === app.ticket?.id && !app.busy) {
    thanks("");
  }
}

function expired() {
  app.feed?.stop();
  session.clear();
  showLogin(["Phiên đăng nhập của máy đánh giá đã hết hạn. Nhân viên quầy hãy đăng nhập lại.",
    "The tablet's login expired. The counter's staff should log in again."]);
}

function showLogin(message) {
  screen("login-view");
  showNotice($("#login-message"), "warn", message);
}

function startLive() {
  app.feed?.stop();
  app.feed = new LiveFeed({
    channel: `counter/${CENTER}/${COUNTER}`, token: session.token,
    onSnapshot: (snap) => {
      clock.sync(snap.now);
      const counter = snap.counters.find((c) => c.id === COUNTER);
      $("#where").innerHTML = `${escapeHtml(snap.name)} · ${escapeHtml(counter?.name || COUNTER)}
        <span class="en">— Đánh giá mức độ hài lòng / Satisfaction rating</span>`;
    },
    onEvent,
    onStatus: (state) => { $("#live-status").dataset.state = state; },
    onAuthError: expired,
    onRefused: (reason) => showLogin(["Máy này không mở được kênh của quầy.", "This tablet cannot follow the counter."].map((s) => `${s} ${reason}`)),
  });
  // Resume where this tablet left off: a completion during a reload is still asked about.
  app.feed.lastId = localStorage.getItem(`${session.storageKey}.last`) || null;
  app.feed.start();
  if (!app.ticket) waitNext();
}

async function submitLogin(event) {
  event.preventDefault();
  try {
    const answer = await login($("#username").value.trim(), $("#password").value);
    if (!["staff", "supervisor"].includes(answer.role) || answer.center !== CENTER) {
      showNotice($("#login-message"), "bad", [`Cần tài khoản nhân viên của trung tâm ${CENTER}.`,
        `This needs a staff login of center ${CENTER}.`]);
      return;
    }
    session.save(answer);
    $("#password").value = "";
    startLive();
  } catch (error) {
    showNotice($("#login-message"), "bad", explain(error));
  }
}

function boot() {
  $("#faces").innerHTML = LEVELS.map(([level, vi, en, color, mouth]) => `<button type="button" class="face"
      data-level="${level}">${face(color, mouth)}<span>${vi}</span><span class="en">${en}</span></button>`).join("");
  $("#faces").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-level]");
    if (button) rate(Number(button.dataset.level));
  });
  $("#login-form").addEventListener("submit", submitLogin);
  if (session.valid) startLive();
  else { session.clear(); showLogin(null); }
}

boot();
