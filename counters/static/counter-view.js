// Rendering of the counter console: the current ticket, the buttons, the queues, my day and
// the counter picker. Pure functions of the state handed in; counter.js owns the state.

import { $, $$, STATES, STATUSES, both, clockTime, duration, escapeHtml, minutes } from "./common.js";

export const ACTIONS = {
  "open": ["Mở quầy", "Open counter"],
  "call-next": ["Gọi số tiếp theo", "Call next"],
  "call": ["Gọi số đã chọn", "Call the chosen ticket"],
  "recall": ["Gọi lại", "Recall"],
  "start": ["Bắt đầu phục vụ", "Start serving"],
  "complete": ["Hoàn thành", "Complete"],
  "no-show": ["Đánh dấu vắng mặt", "Mark no-show"],
  "transfer": ["Chuyển số", "Transfer"],
  "pause": ["Tạm dừng quầy", "Pause the counter"],
  "resume": ["Tiếp tục làm việc", "Resume"],
  "close": ["Đóng quầy", "Close the counter"],
  "check-in": ["Nhận lịch hẹn", "Check in an appointment"],
};

export function serviceName(names, id) {
  return names.service[id]?.name || id;
}

function priorityBadge(names, priority) {
  if (!priority) return "";
  const p = names.priority[priority];
  return `<span class="badge prio" title="${escapeHtml(p?.name_en || priority)}">Ưu tiên: ${escapeHtml(p?.name || priority)}</span>`;
}

// Which actions the counter's state allows (the server checks again; this only guides).
export function allowed(counter, mayAct) {
  const none = Object.fromEntries(Object.keys(ACTIONS).map((k) => [k, false]));
  if (!counter || !mayAct) return none;
  const state = counter.state;
  const inHand = Boolean(counter.ticket);
  const status = counter.current?.status;
  return { ...none,
    "open": state === "closed",
    "call-next": state === "open" && !inHand,
    "call": state === "open" && !inHand,
    "recall": state === "open" && status === "called",
    "start": status === "called",
    "complete": status === "serving",
    "no-show": status === "called",
    "transfer": status === "called" || status === "serving",
    "pause": state === "open" && !inHand,
    "resume": state === "paused",
    "close": state !== "closed" && !inHand,
    "check-in": true,  // any member of the center's staff, whatever the counter does
  };
}

export function renderButtons(counter, mayAct, busy) {
  const can = allowed(counter, mayAct);
  for (const button of $$("#actions button[data-action]")) {
    const name = button.dataset.action;
    button.disabled = busy || !can[name];
    if (name === "pause") button.hidden = counter?.state === "paused" || counter?.state === "closed";
    if (name === "resume") button.hidden = counter?.state !== "paused";
    if (name === "open") button.hidden = counter?.state !== "closed";
  }
  for (const button of $$("#queues button[data-call]")) button.disabled = busy || !can.call;
}

export function renderCounterState(counter, me) {
  if (!counter) return "";
  const state = STATES[counter.state] || [counter.state, counter.state];
  const holder = counter.staff && counter.staff !== me
    ? `<div class="notice warn">Quầy đang do <b>${escapeHtml(counter.staff)}</b> phụ trách <span class="en">/ held by ${escapeHtml(counter.staff)}</span></div>` : "";
  return `<span class="state state-${escapeHtml(counter.state)}">${both(state)}</span>${holder}`;
}

export function renderCurrent(counter, names, mayAct = true) {
  if (counter && !mayAct) {
    return `<div class="empty">${both(["Quầy này không còn do bạn phụ trách. Hãy chọn quầy khác.",
      "This counter is no longer yours. Choose another counter."])}</div>`;
  }
  const t = counter?.current;
  if (counter?.state === "paused") {
    const reason = names.reason[counter.reason] || { name: counter.reason, name_en: "" };
    return `<div class="paused-big">${both([`Tạm dừng: ${reason.name}`, `Paused: ${reason.name_en}`])}
      <div class="timer"><span class="value" data-since="${counter.since}"></span></div>
      <div class="en">Nhấn P để tiếp tục / Press P to resume</div></div>`;
  }
  if (!counter || !counter.ticket) {
    const idle = counter?.state === "open"
      ? ["Chưa có số nào trong tay. Nhấn N để gọi số tiếp theo.", "No ticket in hand. Press N to call the next one."]
      : ["Quầy đang đóng.", "The counter is closed."];
    return `<div class="empty">${both(idle)}</div>`;
  }
  if (!t) return `<div class="empty">…</div>`;
  const status = STATUSES[t.status] || [t.status, t.status];
  const waitedTo = t.started ? `data-to="${t.started}"` : "";
  const served = t.started
    ? `<div class="timer"><span class="label">Đã phục vụ <span class="en">/ Served</span></span><span class="value" data-since="${t.started}"></span></div>`
    : `<div class="timer"><span class="label">Gọi lúc <span class="en">/ Called at</span></span><span class="value">${clockTime(t.called)}</span></div>`;
  const recalls = t.recalls ? `<div class="recalls">Đã gọi lại ${t.recalls} lần <span class="en">/ recalled ${t.recalls}×</span></div>` : "";
  return `<div class="number" id="current-number">${escapeHtml(t.number)}</div>
    <div class="service">${escapeHtml(serviceName(names, t.service))} ${priorityBadge(names, t.priority)}</div>
    <div class="status status-${escapeHtml(t.status)}" id="current-status">${both(status)}</div>
    <div class="timers">
      <div class="timer"><span class="label">Đã chờ <span class="en">/ Waited</span></span><span class="value" data-since="${t.arrived}" ${waitedTo}></span></div>
      ${served}
    </div>${recalls}`;
}

function ticketRow(names, row, targetS) {
  return `<li data-ticket="${escapeHtml(row.id)}" data-target="${targetS}" data-since="${row.arrived}">
    <b class="tnum">${escapeHtml(row.number)}</b> ${priorityBadge(names, row.priority)}
    ${row.queue === "A" ? '<span class="badge appt">Hẹn / Appt</span>' : ""}
    <span class="wait" data-since="${row.arrived}"></span>
    <button type="button" class="small" data-call="${escapeHtml(row.id)}" title="Gọi số này / Call this ticket">Gọi <span class="en">/ Call</span></button>
  </li>`;
}

export function renderQueues(snap, counter, names) {
  if (!snap || !counter) return "";
  const target = snap.target_s || 1800;
  const parts = [];
  if (counter.queued) {
    parts.push(`<section class="queue own"><h3>Chuyển riêng cho quầy này <span class="en">/ Sent to this counter</span>
      <span class="count">${counter.queued}</span></h3><ol>${(counter.tickets || []).map((r) => ticketRow(names, r, target)).join("")}</ol></section>`);
  }
  for (const id of String(counter.services || "").split(",").filter(Boolean)) {
    const s = snap.services.find((x) => x.id === id);
    if (!s) continue;
    const rows = s.tickets || [];
    const more = s.waiting > rows.length ? `<li class="more">… và ${s.waiting - rows.length} số khác <span class="en">/ and ${s.waiting - rows.length} more</span></li>` : "";
    const oldest = s.waiting && s.oldest ? `<span data-since="${s.oldest}" data-target="${target}"></span>`
      : `— <span class="en">(không có ai chờ / nobody waiting)</span>`;
    parts.push(`<section class="queue" data-service="${escapeHtml(id)}">
      <h3>${escapeHtml(serviceName(names, id))} <span class="en">/ ${escapeHtml(names.service[id]?.name_en || "")}</span>
        <span class="count" title="Đang chờ / Waiting">${s.waiting}</span></h3>
      <div class="longest">Chờ lâu nhất <span class="en">/ Longest wait</span>: ${oldest}</div>
      <ol>${rows.map((r) => ticketRow(names, r, target)).join("")}${more}</ol></section>`);
  }
  return parts.join("") || `<div class="empty">${both(["Quầy chưa được giao dịch vụ nào.", "No services assigned."])}</div>`;
}

export function renderDay(day) {
  const rating = day.mean_rating === null ? "—" : `${day.mean_rating.toFixed(2)} / 5 (${day.ratings})`;
  const rows = [
    [["Đã phục vụ", "Served"], `<span id="day-served">${day.served}</span>`],
    [["Thời gian phục vụ TB", "Mean service time"], minutes(day.mean_service_s)],
    [["Vắng mặt", "No-shows"], `<span id="day-no-shows">${day.no_shows}</span>`],
    [["Đánh giá TB", "Mean rating"], rating],
    [["Tạm dừng", "Paused"], minutes(day.paused_s)],
  ];
  return rows.map(([label, value]) => `<dt>${both(label)}</dt><dd>${value}</dd>`).join("");
}

export function renderPicker(snap, names, me) {
  return snap.counters.map((c) => {
    const state = STATES[c.state] || [c.state, c.state];
    const services = String(c.services || "").split(",").filter(Boolean)
      .map((id) => `<li>${escapeHtml(serviceName(names, id))}</li>`).join("");
    let note = "";
    let label = ["Nhận quầy", "Take this counter"];
    if (c.state !== "closed" && c.staff === me) label = ["Tiếp tục tại quầy này", "Continue at this counter"];
    else if (c.state !== "closed") {
      note = `<div class="note warn">Đang do <b>${escapeHtml(c.staff)}</b> phụ trách: cần giám sát viên bàn giao.
        <span class="en">Held by ${escapeHtml(c.staff)}: a supervisor must hand it over.</span></div>`;
    }
    return `<article class="card counter-card state-${escapeHtml(c.state)}" data-counter="${escapeHtml(c.id)}">
      <h2>${escapeHtml(c.name || `Quầy ${c.id}`)}</h2>
      <div class="state state-${escapeHtml(c.state)}">${both(state)}</div>
      <ul class="services">${services}</ul>${note}
      <button type="button" class="primary" data-take="${escapeHtml(c.id)}">${both(label)}</button>
    </article>`;
  }).join("");
}

// Every second: running durations, and the over-target highlight of waiting tickets.
export function tick(now) {
  for (const el of $$("[data-since]")) {
    const since = Number(el.dataset.since);
    if (el.dataset.target) {
      el.classList.toggle("over", Boolean(since) && (now - since) / 1000 > Number(el.dataset.target));
    }
    if (el.tagName === "LI") continue;
    const to = Number(el.dataset.to || 0) || now;
    el.textContent = since ? duration(to - since) : "—";
  }
}

export function transferOptions(snap, counter, names) {
  const services = [`<option value="">— Giữ dịch vụ hiện tại / Same service —</option>`]
    .concat(snap.services.map((s) => `<option value="${escapeHtml(s.id)}">${escapeHtml(serviceName(names, s.id))}</option>`));
  // Only counters that are open: a closed or paused one would call nobody, and the citizen
  // would wait unseen (the supervisor's page can send a ticket to one, explicitly).
  const counters = [`<option value="">— Quầy bất kỳ / Any counter —</option>`]
    .concat(snap.counters.filter((c) => c.id !== counter.id && c.state === "open")
      .map((c) => `<option value="${escapeHtml(c.id)}">${escapeHtml(c.name || c.id)}</option>`));
  $("#transfer-service").innerHTML = services.join("");
  $("#transfer-counter").innerHTML = counters.join("");
}

export function pauseChoices(names) {
  return names.pause_reasons.map((r, i) => `<label class="choice">
    <input type="radio" name="reason" value="${escapeHtml(r.id)}" ${i === 0 ? "checked" : ""}>
    <kbd>${i + 1}</kbd> ${both([r.name, r.name_en])}</label>`).join("");
}

// What the console says after an action succeeded: [Vietnamese, English].
export function successMessage(name, out, body, names) {
  const t = out.ticket;
  const n = t?.number || "";
  switch (name) {
    case "open": return ["Đã nhận quầy.", "Counter taken."];
    case "call-next": return t ? [`Đã gọi số ${n}.`, `Called ${n}.`] : ["Không có ai đang chờ.", "Nobody is waiting."];
    case "call": return [`Đã gọi số ${n}.`, `Called ${n}.`];
    case "recall": return t?.status === "no_show"
      ? [`Số ${n} đã quá số lần gọi lại: đánh dấu vắng mặt.`, `${n} passed the recall limit: no-show.`]
      : [`Đã gọi lại số ${n} (lần ${t?.recalls}).`, `Recalled ${n} (${t?.recalls}).`];
    case "start": return [`Bắt đầu phục vụ số ${n}.`, `Serving ${n}.`];
    case "complete": return [`Đã hoàn thành số ${n}.`, `Completed ${n}.`];
    case "no-show": return [`Số ${n}: vắng mặt.`, `${n}: no-show.`];
    case "transfer": {
      const to = out.new_ticket;
      const where = body.to_counter ? `quầy ${body.to_counter}` : serviceName(names, to?.service);
      return [`Đã chuyển số ${n} sang ${where}: số mới ${to?.number}.`, `Transferred ${n}: new number ${to?.number}.`];
    }
    case "pause": return ["Quầy đang tạm dừng.", "The counter is paused."];
    case "resume": return ["Quầy tiếp tục làm việc.", "The counter is back at work."];
    case "close": return ["Đã đóng quầy.", "The counter is closed."];
    default: return null;
  }
}
