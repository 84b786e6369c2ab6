// Shared by the counter console, the supervisor page and the rating tablet: the HTTP client
// (problem+json errors, idempotency keys kept across retries), the live feed (resumable
// WebSocket), the saved login, and formatting. Vietnamese first, English second.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  }[c]));
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a center's LAN often
// serves plain http, where getRandomValues still works.
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ------------------------------------------------------------------ the saved login

// Read from localStorage at each use: a login made (or ended) in another tab of the same
// browser counts here too.
export class Session {
  constructor(storageKey) { this.storageKey = storageKey; }
  get data() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch { return null; }
  }
  get token() { return this.data?.token || ""; }
  get valid() {
    const data = this.data;
    return Boolean(data?.token) && (!data.expiresAt || Date.now() < data.expiresAt);
  }
  save(login) {
    localStorage.setItem(this.storageKey, JSON.stringify({ token: login.token,
      username: login.username, name: login.name, role: login.role, center: login.center,
      expiresAt: Date.now() + (login.expires_in || 0) * 1000 }));
  }
  clear() { localStorage.removeItem(this.storageKey); }
}

// ------------------------------------------------------------------ HTTP

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = (problem.type || "").split("/").pop() || "network";
    this.detail = problem.detail || "";
    this.title = problem.title || "";
    this.reason = problem.reason || "";
    this.fields = problem.fields || {};
  }
}

// The sentences of whole kinds (queue_server/errors.py): a refusal with one of these says
// less than its English detail, which the patterns of explain() read.
const KIND_REASONS = new Set(["qms_error", "invalid_input", "unauthenticated", "forbidden",
  "rate_limited", "not_found", "unknown_center", "unknown_service", "unknown_counter",
  "unknown_ticket", "conflict", "illegal_transition", "counter_state", "idempotency_mismatch",
  "unavailable", "config_error", "bad_request", "internal"]);

const RETRY_STATUS = new Set([502, 503, 504]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One request; a network failure or a 502/503/504 is retried with the SAME Idempotency-Key,
// so the server acts at most once whatever happened to the first answer.
export async function api(session, method, path, { body, key, attempts = 3 } = {}) {
  const headers = { Accept: "application/json" };
  if (session?.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  let lastError = null;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt) await sleep(300 * 3 ** (attempt - 1));
    let response;
    try {
      response = await fetch(path, { method, headers,
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      lastError = new ApiError(0, { title: "Không kết nối được máy chủ / Cannot reach the server",
        detail: String(error.message || error) });
      continue;
    }
    if (response.ok) return response.status === 204 ? null : response.json();
    let problem = {};
    try { problem = await response.json(); } catch { /* not JSON */ }
    lastError = new ApiError(response.status, problem);
    if (!RETRY_STATUS.has(response.status)) break;
  }
  throw lastError;
}

// ------------------------------------------------------------------ the message catalogue

// GET /api/v1/messages: {reason: [vi, en]} (docs/messages.md), read once per page; say()
// gives a sentence of it as [Vietnamese, English], its {fields} filled in.
let catalogueText = {};
let catalogueLoad = null;
export function loadMessages() {
  catalogueLoad ||= api(null, "GET", "/api/v1/messages", { attempts: 2 })
    .then((body) => { catalogueText = body.messages || {}; })
    .catch(() => { /* the pages still work; a sentence shows its key */ });
  return catalogueLoad;
}

export function say(reason, fields = {}) {
  const pair = catalogueText[reason] || [reason, reason];
  return pair.map((text) => Object.entries(fields).reduce(
    (out, [name, value]) => out.split(`{${name}}`).join(String(value)), text));
}

// A day as the engine names it (YYYYMMDD) the way people write it: 03/12/2026.
export function dayText(day) {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(String(day || ""));
  return m ? `${m[3]}/${m[2]}/${m[1]}` : String(day || "");
}

export async function login(username, password) {
  return api(null, "POST", "/api/v1/auth/login", { body: { username, password }, attempts: 1 });
}

// What a person is told about a refused request: [Vietnamese, English].
export function explain(error) {
  const d = error.detail || "";
  // A chosen ticket that is no longer waiting was most likely just called elsewhere: say so
  // (the console refreshes its list), rather than the bare status.
  if (error.reason === "ticket_status" && (error.fields || {}).action === "call") return [
    "Số này không còn chờ: có thể quầy khác vừa gọi. Danh sách đã được làm mới.",
    "This ticket is no longer waiting: another counter may have just called it. The list is refreshed."];
  // A specific reason of the message catalogue: its sentence, "Vietnamese — English".
  if (error.reason && !KIND_REASONS.has(error.reason) && d.includes(" — ")) {
    const cut = d.indexOf(" — ");
    return [d.slice(0, cut), d.slice(cut + 3)];
  }
  const held = d.match(/is (?:taken|held) by (\S+?)(?::|,|$)/);
  if (error.status === 0) return ["Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
    "Cannot reach the server. Check the network and try again."];
  if (error.status === 401) {
    if (/wrong username or password/.test(d)) return ["Sai tên đăng nhập hoặc mật khẩu.",
      "Wrong username or password."];
    return ["Phiên đăng nhập đã hết hạn hoặc không còn hợp lệ.",
      "Your login has expired or is no longer valid."];
  }
  if (error.status === 403) return ["Tài khoản này không có quyền thực hiện thao tác này.",
    "This account may not do this."];
  if (/is taken by/.test(d) && held) return [
    `Quầy đang do ${held[1]} phụ trách: cần giám sát viên bàn giao quầy.`,
    `The counter is held by ${held[1]}: a supervisor must hand it over.`];
  if (/is held by/.test(d) && held) return [
    `Quầy hiện do ${held[1] === "nobody" ? "không ai" : held[1]} phụ trách, không phải bạn.`,
    `The counter is held by ${held[1]}, not by you.`];
  if (error.code === "illegal-transition" && /cannot call ticket/.test(d)) return [
    "Số này không còn chờ: có thể quầy khác vừa gọi. Danh sách đã được làm mới.",
    "This ticket is no longer waiting: another counter may have just called it. The list is refreshed."];
  if (/not in hand|no ticket in hand/.test(d)) return [
    "Quầy không còn giữ số này: trạng thái đã thay đổi. Màn hình đã được làm mới.",
    "The counter no longer holds this ticket: the state changed. The view is refreshed."];
  if (/still has ticket|has ticket .* in hand/.test(d)) return [
    "Quầy đang có số trong tay: hãy hoàn thành, chuyển hoặc đánh dấu vắng mặt trước.",
    "A ticket is still in hand: complete it, transfer it or mark it no-show first."];
  if (/does not serve ticket/.test(d)) return ["Quầy này không phục vụ dịch vụ của số đó.",
    "This counter does not serve that ticket's service."];
  if (/already rated/.test(d)) return ["Số này đã được đánh giá.", "This ticket was already rated."];
  if (error.code === "counter-state") return ["Trạng thái quầy vừa thay đổi; thao tác không thực hiện được.",
    "The counter's state changed; the action could not be done."];
  if (error.code === "illegal-transition") return ["Trạng thái của số đã thay đổi; thao tác không thực hiện được.",
    "The ticket's state changed; the action could not be done."];
  const [vi, en] = (error.title || "Lỗi / Error").split(" / ");
  return [`${vi}.`, `${en || ""}.`];
}

// ------------------------------------------------------------------ the live feed

// The live channel is the one every page uses (/static/site/live.js, loaded by the page before
// this module: window.QMS.LiveChannel, docs/live-protocol.md); this wraps it in the callbacks
// the staff pages want.
const live = () => globalThis.QMS;

let wsConfig = null;
export async function wsBase() {
  if (!wsConfig) wsConfig = await api(null, "GET", "/api/v1/config");
  return live().liveBase(wsConfig);
}

// Stream ids compare as (ms, seq); true when a is strictly later than b.
export const idAfter = (a, b) => live().LiveChannel.idAfter(a, b);

// A resumable channel: onSnapshot(snapshot, id), onEvent(event, id), onStatus("connecting" |
// "live" | "offline"), onAuthError(reason) on 4401, onRefused(reason) on 4403/4404.
export class LiveFeed {
  constructor({ channel, token, onSnapshot, onEvent, onStatus, onAuthError, onRefused }) {
    Object.assign(this, { channel, token, onSnapshot, onEvent, onStatus, onAuthError, onRefused });
    this.lastId = null;
    this.stopped = false;
    this.inner = null;
    this.retryTimer = null;
  }

  async start() {
    this.stopped = false;
    let base;
    try {
      base = await wsBase();
    } catch {
      this.onStatus?.("offline");
      this.retryTimer = setTimeout(() => this.start(), 2000);
      return;
    }
    if (this.stopped) return;
    this.inner = new (live().LiveChannel)({
      url: `${base}/${this.channel}`, token: this.token, resume: true, lastId: this.lastId,
      onFrame: (frame) => this.frame(frame),
      onState: (state) => this.onStatus?.(state === "open" ? "live" : state === "reconnecting" ? "offline" : "connecting"),
      onFatal: (code, reason) => {
        this.stopped = true;
        if (code === 4401) this.onAuthError?.(reason);
        else this.onRefused?.(reason);
      },
    }).start();
  }

  frame(frame) {
    this.lastId = this.inner.lastId;
    if (frame.type === "snapshot") this.onSnapshot?.(frame.snapshot, frame.id);
    else if (frame.type === "event") this.onEvent?.(frame.event, frame.id);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.inner?.stop();
    this.inner = null;
  }
}

// ------------------------------------------------------------------ formatting

// Milliseconds as m:ss, or h:mm:ss past an hour.
export function duration(ms) {
  const total = Math.max(0, Math.floor((ms || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = Math.round(seconds / 60);
  return m < 1 ? `${Math.round(seconds)} giây` : `${m} phút`;
}

export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit",
    second: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
}

export const STATES = {
  open: ["Đang mở", "Open"],
  paused: ["Tạm dừng", "Paused"],
  closed: ["Đã đóng", "Closed"],
};

export const STATUSES = {
  waiting: ["Đang chờ", "Waiting"],
  called: ["Đã gọi", "Called"],
  serving: ["Đang phục vụ", "Serving"],
  done: ["Đã xong", "Done"],
  no_show: ["Vắng mặt", "No-show"],
  transferred: ["Đã chuyển", "Transferred"],
  cancelled: ["Đã hủy", "Cancelled"],
  booked: ["Đã đặt hẹn", "Booked"],
};

export function both(pair, cls = "en") {
  return `${escapeHtml(pair[0])} <span class="${cls}">/ ${escapeHtml(pair[1])}</span>`;
}

// The province's names: services, priority groups and pause reasons.
export async function catalogue() {
  const data = await api(null, "GET", "/api/v1/services");
  const index = (rows) => Object.fromEntries(rows.map((r) => [r.id, r]));
  return { ...data, service: index(data.services), priority: index(data.priorities),
    reason: index(data.pause_reasons) };
}

// The server's clock: durations are measured against it, not the browser's.
export class ServerClock {
  constructor() { this.offset = 0; }
  sync(serverNow) { if (serverNow) this.offset = serverNow - Date.now(); }
  now() { return Date.now() + this.offset; }
}

export function showNotice(element, kind, pair, detail = "") {
  if (!pair) { element.hidden = true; element.innerHTML = ""; return; }
  element.hidden = false;
  element.className = `notice ${kind}`;
  element.innerHTML = `<strong>${escapeHtml(pair[0])}</strong> <span class="en">${escapeHtml(pair[1])}</span>`
    + (detail ? `<div class="detail">${escapeHtml(detail)}</div>` : "");
}
