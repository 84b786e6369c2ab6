// Checking an appointment holder in, at the counter console and on the supervisor page: by
// the booking's code (A001-4821, or the text of its QR code), by its number alone (A001)
// among today's bookings, or by choosing it from the list of today's bookings not yet checked
// in (GET /api/v1/centers/{c}/bookings). Staff may check in by number: the code's four digits
// keep a stranger at the kiosk from checking someone else in, staff see the citizen.

import { $, api, clockTime, escapeHtml, explain, newKey, say, showNotice } from "./common.js";

const NUMBER = /^[A-Z]{1,3}\d{3,5}$/;

export class CheckIn {
  // root: the element holding the form (a form with input[name=code]), the list
  // (.checkin-list) and the notice ([data-checkin-notice]); onDone(outcome) after a check-in.
  constructor({ root, session, center, names, onDone, onExpired }) {
    Object.assign(this, { root, session, center, names, onDone, onExpired });
    this.rows = [];
    this.busy = false;
    root.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit(this.input.value);
    });
    root.querySelector(".checkin-list").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-check-in]");
      if (button) this.byTicket(button.dataset.checkIn);
    });
  }

  get input() { return this.root.querySelector("input[name=code]"); }
  get notice() { return this.root.querySelector("[data-checkin-notice]"); }

  async refresh() {
    try {
      const answer = await api(this.session, "GET", `/api/v1/centers/${this.center()}/bookings`);
      this.rows = answer.bookings;
      this.render();
    } catch (error) {
      if (error.status === 401) this.onExpired?.();
      else showNotice(this.notice, "bad", explain(error), error.detail);
    }
  }

  render() {
    const list = this.root.querySelector(".checkin-list");
    if (!this.rows.length) {
      list.innerHTML = `<li class="empty">${escapeHtml(say("checkin_staff_none")[0])}
        <span class="en">/ ${escapeHtml(say("checkin_staff_none")[1])}</span></li>`;
      return;
    }
    list.innerHTML = this.rows.map((r) => {
      const service = this.names.service[r.service];
      return `<li data-booking="${escapeHtml(r.id)}">
        <b class="tnum">${escapeHtml(r.number)}</b>
        <span class="when">${escapeHtml(clockTime(r.appt).slice(0, 5))}</span>
        <span class="service">${escapeHtml(service?.name || r.service)}</span>
        <button type="button" class="small" data-check-in="${escapeHtml(r.id)}" data-number="${escapeHtml(r.number)}"
          ${this.busy ? "disabled" : ""}>Nhận <span class="en">/ Check in</span></button></li>`;
    }).join("");
  }

  async submit(text) {
    const typed = String(text || "").trim().toUpperCase();
    if (!typed) return;
    if (NUMBER.test(typed)) {
      const row = this.rows.find((r) => r.number === typed);
      if (!row) {
        showNotice(this.notice, "bad", say("checkin_staff_unknown_number", { number: typed }));
        return;
      }
      return this.byTicket(row.id);
    }
    return this.run(`/api/v1/centers/${this.center()}/check-in`, { code: typed });
  }

  byTicket(ticketId) {
    return this.run(`/api/v1/tickets/${encodeURIComponent(ticketId)}/check-in`, undefined);
  }

  async run(path, body) {
    if (this.busy) return;
    this.busy = true;
    this.render();
    try {
      const out = await api(this.session, "POST", path, { body, key: newKey() });
      const t = out.ticket;
      const service = this.names.service[t.service]?.name || t.service;
      const said = say(t.queue === "A" ? "checkin_staff_done" : "checkin_staff_done_late",
        { number: t.number, service });
      showNotice(this.notice, "ok", said);
      this.input.value = "";
      this.onDone?.(out, said);
    } catch (error) {
      if (error.status === 401) { this.onExpired?.(); return; }
      showNotice(this.notice, "bad", refusal(error), error.detail);
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }
}

// The server's sentence (explain), except that a booking of another day names its days the
// way people write them rather than as the engine's YYYYMMDD.
function refusal(error) {
  if (error.reason !== "check_in_other_day") return explain(error);
  const fields = { ...(error.fields || {}) };
  for (const key of ["day", "today"]) {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(String(fields[key] || ""));
    if (m) fields[key] = `${m[3]}/${m[2]}/${m[1]}`;
  }
  return say(error.reason, fields);
}

export function focusCode(root) {
  const input = $("input[name=code]", root);
  input.focus();
  input.select();
}
