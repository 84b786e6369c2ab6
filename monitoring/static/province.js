// Province live view: every center in one sortable table, live over /ws/province.
//
// Data: the first WebSocket frame is a snapshot with one summary line per center (the same
// lines as GET /api/v1/province); each later frame is one event of one center carrying the
// center's totals (waiting, called, serving), applied at once. Figures that events do not
// carry (today's means and rates, open counters, the longest wait) are re-read from
// GET /api/v1/province shortly after events, at most every REFRESH_MS. A click on a center
// opens its detail from GET /api/v1/centers/{id}/live, refreshed on that center's events.
"use strict";

(() => {
  const TOKEN_KEY = "qms.province.token";
  const REFRESH_MS = 3000;          // at most one summary re-read per this many ms
  const DETAIL_REFRESH_MS = 400;
  const TWO_PANELS_FROM_PX = 1600;

  const COLUMNS = [
    { key: "name", vi: "Trung tâm", en: "Center", text: true },
    { key: "waiting", vi: "Đang chờ", en: "Waiting" },
    { key: "at_counters", vi: "Tại quầy", en: "At counters" },
    { key: "open_counters", vi: "Quầy mở", en: "Open" },
    { key: "longest_wait_s", vi: "Chờ lâu nhất", en: "Longest wait" },
    { key: "mean_wait_today_s", vi: "Chờ TB hôm nay", en: "Mean wait today" },
    { key: "served_today", vi: "Đã phục vụ", en: "Served today" },
    { key: "no_show_rate_today", vi: "Vắng mặt", en: "No-show rate" },
    { key: "satisfaction_today", vi: "Hài lòng", en: "Satisfaction" },
  ];
  const STATES = {
    open: ["Đang mở", "Open"], paused: ["Tạm dừng", "Paused"], closed: ["Đóng", "Closed"],
  };
  const TICKET_STATES = { called: ["Đang gọi", "Called"], serving: ["Đang phục vụ", "Serving"] };

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    config: null,
    names: { services: {}, reasons: {} },
    centers: new Map(),            // id -> summary row (+ base time for the longest wait)
    lastEvent: new Map(),          // id -> last stream id applied from an event
    flashUntil: new Map(),
    sort: { key: "name", dir: 1 },
    live: null,                    // the province channel (QMS.LiveChannel)
    refreshTimer: null,
    lastRefresh: 0,
    detail: null,                  // { id, snapshot, skew, timer }
    renderQueued: false,
  };

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function bilingual(vi, en) {
    return [vi, " ", el("span", { class: "en" }, en)];
  }

  const integer = new Intl.NumberFormat("vi-VN");
  const oneDecimal = new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 1,
                                                      maximumFractionDigits: 1 });
  const twoDecimals = new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 2,
                                                       maximumFractionDigits: 2 });

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const whole = Math.max(0, Math.round(seconds));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "–" : `${oneDecimal.format(rate * 100)} %`;
  }

  function compareIds(a, b) {      // stream ids compare as (ms, seq)
    const [am, as] = String(a || "0-0").split("-").map(Number);
    const [bm, bs] = String(b || "0-0").split("-").map(Number);
    return am - bm || as - bs;
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) {
      logout("Phiên đăng nhập đã hết hạn. / Your login has expired.");
      throw new Error("unauthenticated");
    }
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return response.json();
  }

  // ------------------------------------------------------------------ login

  function showLogin(message) {
    $("board").hidden = true;
    $("reconnecting").hidden = true;
    $("login").hidden = false;
    const error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("username").focus();
  }

  async function login(event) {
    event.preventDefault();
    const button = $("login-button");
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username: $("username").value.trim(),
                               password: $("password").value }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        showLogin(body.detail || "Đăng nhập không thành công. / Login failed.");
        return;
      }
      if (body.role !== "province") {
        showLogin("Tài khoản này không phải tài khoản cấp tỉnh. / " +
                  "This is not a province account.");
        return;
      }
      state.token = body.token;
      sessionStorage.setItem(TOKEN_KEY, body.token);
      $("password").value = "";
      start();
    } catch (_) {
      showLogin("Không kết nối được máy chủ. / The server cannot be reached.");
    } finally {
      button.disabled = false;
    }
  }

  function logout(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.live) {
      state.live.stop();
      state.live = null;
    }
    closeDetail();
    showLogin(message);
  }

  // ------------------------------------------------------------------ live connection

  async function start() {
    $("login").hidden = true;
    $("board").hidden = false;
    setStatus(false, "Đang kết nối… / Connecting…");
    try {
      if (!state.config) {
        state.config = await api("/api/v1/config");
        const catalog = await api("/api/v1/services");
        for (const s of catalog.services) state.names.services[s.id] = s;
        for (const r of catalog.pause_reasons) state.names.reasons[r.id] = r;
      }
    } catch (error) {
      if (state.token) setTimeout(start, 2000);
      return;
    }
    connect();
  }

  // The channel is the one every page uses (/static/site/live.js, docs/live-protocol.md):
  // backoff, the heartbeat watchdog and close codes are its. The province channel starts from
  // the 54 summaries each time, so there is nothing to resume.
  function connect() {
    if (!state.token) return;
    if (state.live) state.live.stop();
    state.live = new window.QMS.LiveChannel({
      url: window.QMS.liveBase(state.config) + "/province", token: state.token, resume: false,
      onFrame: (frame) => {
        if (frame.type === "snapshot") applySnapshot(frame.snapshot);
        else if (frame.type === "event") applyEvent(frame);
      },
      onState: (name, info) => { if (name === "reconnecting") showRetry(info.delay); },
      onFatal: () => logout("Phiên đăng nhập đã hết hạn hoặc không có quyền. / " +
                            "Login expired or not allowed."),
    }).start();
  }

  let retryTicker = null;
  function showRetry(delay) {
    setStatus(false, "Mất kết nối / Disconnected");
    $("reconnecting").hidden = false;
    const due = Date.now() + delay;
    const countdown = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      $("retry-in").textContent = left ? `(${left} s)` : "";
      if (!left) clearInterval(retryTicker);
    };
    clearInterval(retryTicker);
    countdown();
    retryTicker = setInterval(countdown, 250);
  }

  function setStatus(live, text) {
    const status = $("status");
    status.className = `status ${live ? "live" : "down"}`;
    status.textContent = text;
  }

  // ------------------------------------------------------------------ data

  function setRow(row, receivedAt) {
    row.base_longest_s = row.longest_wait_s;
    row.base_at = receivedAt;
    state.centers.set(row.id, row);
  }

  function applySnapshot(snapshot) {
    clearInterval(retryTicker);
    $("reconnecting").hidden = true;
    setStatus(true, "● Trực tiếp / Live");
    if (snapshot.province) $("province-name").textContent = snapshot.province;
    const now = Date.now();
    state.centers.clear();
    state.lastEvent.clear();
    for (const row of snapshot.centers) setRow(row, now);
    queueRender();
  }

  function applyEvent(frame) {
    const row = state.centers.get(frame.center);
    const event = frame.event || {};
    if (!row) return;
    state.lastEvent.set(frame.center, frame.id);
    if (event.totals) {
      if (!row.waiting && event.totals.waiting) { row.base_longest_s = 0; row.base_at = Date.now(); }
      row.waiting = event.totals.waiting;
      row.called = event.totals.called;
      row.serving = event.totals.serving;
      if (!row.waiting) { row.base_longest_s = 0; row.base_at = Date.now(); }
    }
    if (event.type === "completed") row.served_today = (row.served_today || 0) + 1;
    state.flashUntil.set(frame.center, Date.now() + 1500);
    queueRender();
    scheduleRefresh();
    if (state.detail && state.detail.id === frame.center) scheduleDetail();
  }

  function scheduleRefresh() {
    if (state.refreshTimer) return;
    const wait = Math.max(600, state.lastRefresh + REFRESH_MS - Date.now());
    state.refreshTimer = setTimeout(refresh, wait);
  }

  async function refresh() {
    state.refreshTimer = null;
    state.lastRefresh = Date.now();
    try {
      const body = await api("/api/v1/province");
      const now = Date.now();
      for (const fresh of body.centers) {
        const seen = state.lastEvent.get(fresh.id);
        const current = state.centers.get(fresh.id);
        if (seen && current && compareIds(fresh.last_id, seen) < 0) {
          // An event newer than this read already updated the totals: keep them.
          fresh.waiting = current.waiting;
          fresh.called = current.called;
          fresh.serving = current.serving;
        }
        setRow(fresh, now);
      }
      queueRender();
    } catch (_) { /* the next event or the periodic refresh tries again */ }
  }

  function derived(row, now) {
    const elapsed = row.waiting ? (now - row.base_at) / 1000 : 0;
    const longest = row.waiting ? row.base_longest_s + elapsed : 0;
    return {
      name: row.name,
      waiting: row.waiting,
      at_counters: (row.called || 0) + (row.serving || 0),
      open_counters: row.open_counters,
      longest_wait_s: longest,
      mean_wait_today_s: row.mean_wait_today_s,
      served_today: row.served_today,
      no_show_rate_today: row.no_show_rate_today,
      satisfaction_today: row.satisfaction_today,
      over: longest > row.target_s,
    };
  }

  // ------------------------------------------------------------------ the board

  function queueRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => { state.renderQueued = false; render(); });
  }

  function sortedRows(now) {
    const rows = [...state.centers.values()].map((row) => ({ row, view: derived(row, now) }));
    const { key, dir } = state.sort;
    rows.sort((a, b) => {
      const x = a.view[key];
      const y = b.view[key];
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
      if (y === null || y === undefined) return -1;
      const order = typeof x === "string" ? x.localeCompare(y, "vi") : x - y;
      return order * dir || a.row.id.localeCompare(b.row.id);
    });
    return rows;
  }

  // The table is built once and updated in place (rows keep their elements, so hovering,
  // focus and a click in progress survive the once-a-second update).
  const board = { panels: [], rows: new Map() };

  function buildPanels(count) {
    board.panels = [];
    const tables = $("tables");
    tables.style.setProperty("--panels", count);
    tables.classList.toggle("two", count === 2);
    tables.replaceChildren();
    for (let p = 0; p < count; p += 1) {
      const headers = COLUMNS.map((column) => el("th", { scope: "col", "data-key": column.key },
        el("button", { type: "button", "data-sort": column.key, onclick: () => sortBy(column) },
           column.vi, el("span", { class: "en" }, column.en))));
      const body = el("tbody");
      tables.append(el("table", { "aria-label": "Các trung tâm / Centers" },
                       el("thead", null, el("tr", null, headers)), body));
      board.panels.push({ headers, body });
    }
  }

  function sortBy(column) {
    if (state.sort.key === column.key) state.sort.dir = -state.sort.dir;
    else state.sort = { key: column.key, dir: column.text ? 1 : -1 };   // numbers: largest first
    render();
  }

  function rowFor(row) {
    let entry = board.rows.get(row.id);
    if (entry) return entry;
    const cells = {};
    for (const column of COLUMNS) {
      cells[column.key] = el("td", { "data-key": column.key,
                                     class: column.key === "name" ? "name" : null });
    }
    const tr = el("tr", {
      "data-center": row.id, tabindex: 0,
      onclick: () => openDetail(row.id),
      onkeydown: (event) => { if (event.key === "Enter") openDetail(row.id); },
    }, COLUMNS.map((column) => cells[column.key]));
    entry = { tr, cells, shown: {} };
    board.rows.set(row.id, entry);
    return entry;
  }

  function contents(row, view) {
    const over = view.over;
    const none = (value) => value === null || value === undefined;
    return {
      name: [row.name, [row.name, el("small", null, row.id)]],
      waiting: [view.waiting, integer.format(view.waiting)],
      at_counters: [view.at_counters, integer.format(view.at_counters)],
      open_counters: [view.open_counters, [integer.format(view.open_counters),
                                           el("span", { class: "muted" }, `/${row.counters}`)]],
      longest_wait_s: [Math.round(view.longest_wait_s), [
        over ? el("span", { class: "over-mark", title: "Quá mục tiêu / Over target" }, "▲ ")
          : null, duration(view.longest_wait_s)]],
      mean_wait_today_s: [view.mean_wait_today_s,
                          row.served_today || view.mean_wait_today_s
                            ? duration(view.mean_wait_today_s) : "–"],
      served_today: [view.served_today, integer.format(view.served_today || 0)],
      no_show_rate_today: [view.no_show_rate_today,
                           row.served_today || view.no_show_rate_today
                             ? percent(view.no_show_rate_today) : "–"],
      satisfaction_today: [view.satisfaction_today, none(view.satisfaction_today)
        ? "–" : twoDecimals.format(view.satisfaction_today)],
    };
  }

  function updateRow(entry, row, view, now) {
    const over = view.over;
    const flash = (state.flashUntil.get(row.id) || 0) > now;
    entry.tr.classList.toggle("over", over);
    if (flash && !entry.tr.classList.contains("flash")) {
      entry.tr.classList.remove("flash");
      void entry.tr.offsetWidth;            // restart the animation
      entry.tr.classList.add("flash");
    } else if (!flash) {
      entry.tr.classList.remove("flash");
    }
    entry.tr.setAttribute("aria-label",
      `${row.name}${over ? " — quá mục tiêu / over target" : ""}`);
    for (const [key, [value, shown]] of Object.entries(contents(row, view))) {
      const signature = `${value}|${over}|${row.counters}|${row.name}`;
      if (entry.shown[key] === signature) continue;
      entry.shown[key] = signature;
      const td = entry.cells[key];
      td.dataset.value = value ?? "";
      td.classList.toggle("zero", value === 0);
      td.replaceChildren(...[shown].flat().filter((x) => x !== null));
    }
    if (over) entry.cells.longest_wait_s.title = `Mục tiêu / Target ${duration(row.target_s)}`;
  }

  function render() {
    const now = Date.now();
    const rows = sortedRows(now);
    const count = window.innerWidth >= TWO_PANELS_FROM_PX ? 2 : 1;
    if (board.panels.length !== count) buildPanels(count);
    const per = Math.ceil(rows.length / count) || 1;
    rows.forEach(({ row, view }, index) => {
      const entry = rowFor(row);
      updateRow(entry, row, view, now);
      const body = board.panels[Math.floor(index / per)].body;
      const at = index % per;
      if (body.children[at] !== entry.tr) body.insertBefore(entry.tr, body.children[at] || null);
    });
    for (const panel of board.panels) {
      for (const th of panel.headers) {
        const sorted = th.dataset.key === state.sort.key;
        th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending")
                                            : "none");
      }
    }
    renderTotals(rows);
  }

  function renderTotals(rows) {
    const sum = (pick) => rows.reduce((total, { view }) => total + (pick(view) || 0), 0);
    $("total-waiting").textContent = integer.format(sum((v) => v.waiting));
    $("total-serving").textContent = integer.format(sum((v) => v.at_counters));
    $("total-open").textContent = integer.format(sum((v) => v.open_counters));
    $("total-served").textContent = integer.format(sum((v) => v.served_today));
    $("total-over").textContent = integer.format(sum((v) => (v.over ? 1 : 0)));
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString("vi-VN", {
      timeZone: "Asia/Ho_Chi_Minh", hour12: false });
    if (!$("board").hidden && state.centers.size) render();
    if (state.detail && state.detail.snapshot) renderDetail();
  }

  // ------------------------------------------------------------------ drill-in

  async function openDetail(id) {
    if (state.detail && state.detail.timer) clearTimeout(state.detail.timer);
    state.detail = { id, snapshot: null, skew: 0, timer: null, opener: document.activeElement };
    $("detail").hidden = false;
    $("detail-title").textContent = state.centers.get(id)?.name || id;
    $("detail-close").focus();
    await loadDetail();
  }

  function closeDetail() {
    if (!state.detail) return;
    if (state.detail.timer) clearTimeout(state.detail.timer);
    const opener = state.detail.opener;
    state.detail = null;
    $("detail").hidden = true;
    if (opener && opener.focus) opener.focus();
  }

  function scheduleDetail() {
    if (!state.detail || state.detail.timer) return;
    state.detail.timer = setTimeout(() => {
      if (state.detail) { state.detail.timer = null; loadDetail(); }
    }, DETAIL_REFRESH_MS);
  }

  async function loadDetail() {
    const detail = state.detail;
    if (!detail) return;
    try {
      const snapshot = await api(`/api/v1/centers/${encodeURIComponent(detail.id)}/live?tickets=0`);
      if (state.detail !== detail) return;
      detail.snapshot = snapshot;
      detail.skew = snapshot.now - Date.now();     // durations on the server's clock
      $("detail-error").hidden = true;
      renderDetail();
    } catch (error) {
      $("detail-error").hidden = false;
      $("detail-error").textContent = `Không tải được chi tiết. / Could not load: ${error.message}`;
    }
  }

  function table(id, headings, rows, numeric = []) {
    const align = (i) => (numeric.includes(i) ? "num" : null);
    $(id).replaceChildren(
      el("thead", null, el("tr", null, headings.map(([vi, en], i) =>
        el("th", { scope: "col", class: align(i) }, vi,
           el("span", { class: "en" }, ` / ${en}`))))),
      el("tbody", null, rows.length ? rows.map((cells) => el("tr", null,
        cells.map((c, i) => el("td", { class: align(i) }, c))))
        : el("tr", null, el("td", { colspan: headings.length, class: "muted" },
                             "Không có / None"))));
  }

  function renderDetail() {
    const { id, snapshot, skew } = state.detail;
    const row = state.centers.get(id);
    const now = Date.now() + skew;
    const since = (ms) => (ms ? duration((now - ms) / 1000) : "–");
    $("detail-title").textContent = `${snapshot.name} (${id})`;
    if (row) {
      const view = derived(row, Date.now());
      const figure = (vi, en, value, over) => el("div", { class: over ? "over" : null },
        el("span", null, ...bilingual(vi, en)), el("strong", null, value));
      $("detail-summary").replaceChildren(
        figure("Đang chờ", "Waiting", integer.format(view.waiting)),
        figure("Tại quầy", "At counters", integer.format(view.at_counters)),
        figure("Quầy mở", "Open counters", `${view.open_counters}/${row.counters}`),
        figure("Chờ lâu nhất", "Longest wait", duration(view.longest_wait_s), view.over),
        figure("Mục tiêu", "Target", duration(row.target_s)),
        figure("Chờ TB hôm nay", "Mean wait today", duration(view.mean_wait_today_s)),
        figure("Đã phục vụ", "Served today", integer.format(view.served_today || 0)),
        figure("Vắng mặt", "No-show rate", percent(view.no_show_rate_today)),
        figure("Hài lòng", "Satisfaction", view.satisfaction_today == null ? "–"
          : `${twoDecimals.format(view.satisfaction_today)} / 5`));
    }
    const service = (sid) => state.names.services[sid] || { prefix: sid, name: sid };
    const serviceName = (sid) => `${service(sid).prefix} · ${service(sid).name}`;
    table("detail-counters",
      [["Quầy", "Counter"], ["Trạng thái", "State"], ["Cán bộ", "Staff"],
       ["Số đang xử lý", "Ticket"], ["Từ lúc", "For"], ["Dịch vụ", "Services"]],
      snapshot.counters.map((c) => {
        const [vi, en] = STATES[c.state] || [c.state, c.state];
        const reason = c.state === "paused" && c.reason
          ? ` (${state.names.reasons[c.reason]?.name || c.reason})` : "";
        const current = c.current
          ? `${c.current.number} · ${(TICKET_STATES[c.current.status] || [c.current.status])[0]}`
          : "–";
        return [c.name || c.id, el("span", { class: `state-${c.state}` }, `${vi} / ${en}${reason}`),
                c.staff || "–", current, c.state === "closed" ? "–" : since(c.since),
                (c.services || "").split(",").filter(Boolean)
                  .map((sid) => service(sid).prefix).join(" ")];
      }), [4]);
    table("detail-services",
      [["Dịch vụ", "Service"], ["Chờ", "Waiting"], ["Ưu tiên", "Priority"],
       ["Hẹn", "Appt."], ["Lâu nhất", "Oldest"], ["Quầy", "Counters"],
       ["Ước tính", "Estimate"]],
      snapshot.services.map((s) => [serviceName(s.id), integer.format(s.waiting),
        integer.format(s.priority), integer.format(s.appointment),
        s.oldest ? since(s.oldest) : "–", integer.format(s.load.active),
        s.estimated_wait_s === null || s.estimated_wait_s === undefined
          ? "–" : duration(s.estimated_wait_s)]), [1, 2, 3, 4, 5, 6]);
    const activity = (c) => (c.state === "paused" ? ["Tạm dừng", "Paused"]
      : c.ticket ? ["Đang phục vụ", "Serving"] : ["Sẵn sàng", "Idle"]);
    table("detail-staff",
      [["Cán bộ", "Staff"], ["Quầy", "Counter"], ["Hoạt động", "Activity"], ["Từ lúc", "For"]],
      snapshot.counters.filter((c) => c.staff && c.state !== "closed").map((c) => {
        const [vi, en] = activity(c);
        return [c.staff, c.name || c.id, `${vi} / ${en}`, since(c.since)];
      }), [3]);
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", () => logout(""));
    $("detail-close").addEventListener("click", closeDetail);
    $("detail").addEventListener("click", (event) => {
      if (event.target === $("detail")) closeDetail();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeDetail();
    });
    window.addEventListener("resize", queueRender);
    setInterval(tick, 1000);
    setInterval(() => { if (state.live && state.centers.size) scheduleRefresh(); }, 30000);
    if (state.token) start(); else showLogin("");
    tick();
  });
})();
