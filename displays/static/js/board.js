/* The lobby board as data: a snapshot, then events, applied without I/O. The same rules as
   displays/board.py (the terminal client); keep the two in step. The banner (banner()) is the
   newest call whose counter still holds that ticket and is open: a transfer, a no-show, a
   completion, a pause, a close or an expired ticket takes the invitation down at once, the
   history keeps it; the day's close (day_closed) closes everything and clears the history.
   Events are handled by their type. */
(function () {
  'use strict';
  const Q = (window.QMS = window.QMS || {});
  const RECENT = 12;
  const CALLS = ['called', 'recalled'];

  function splitServices(value) {
    if (Array.isArray(value)) return value.slice();
    return String(value || '').split(',').filter(Boolean);
  }
  function ticketOf(t) {
    return t ? { id: t.id || '', number: t.number || '', priority: t.priority || '',
                 status: t.status || '', service: t.service || '' } : null;
  }

  class Board {
    constructor() {
      this.name = '';
      this.counters = new Map();   // id -> {id, name, state, reason, services[], current}
      this.services = new Map();   // id -> {id, waiting, mean_s, eta_s}
      this.recent = [];            // newest first: {number, counter, service, priority, at, type}
      this.totals = { waiting: 0, called: 0, serving: 0 };
      this.lastId = null;
      this.dayClosed = false;
      this.closedDay = '';   // the day the engine closed (YYYYMMDD), while dayClosed
    }

    applySnapshot(snap) {
      this.name = snap.name || this.name;
      this.counters = new Map();
      // A snapshot names the ticket in hand by id; its number is among the recent calls.
      const recentById = new Map((snap.recent || []).filter((r) => r && r.id).map((r) => [r.id, r]));
      for (const c of snap.counters || []) {
        const held = c.ticket && recentById.get(c.ticket);
        const current = c.current && c.current.number ? ticketOf(c.current)
          : held ? ticketOf({ id: held.id, number: held.number, priority: held.priority, service: held.service }) : null;
        this.counters.set(String(c.id), { id: String(c.id), name: c.name || String(c.id),
          state: c.state || 'closed', reason: c.reason || '', services: splitServices(c.services),
          current, queued: Number(c.queued) || 0 });
      }
      this.services = new Map();
      for (const s of snap.services || []) {
        this.services.set(s.id, { id: s.id, waiting: s.waiting || 0,
          mean_s: s.mean_service_s || (s.load && s.load.typical_s) || 0, eta_s: s.estimated_wait_s });
      }
      this.recent = (snap.recent || []).filter((r) => r && r.number).slice(0, RECENT);
      this.totals = snap.totals || this.totals;
      this.lastId = snap.last_id || null;
      // A page opened after the day's close: the snapshot says the open day is closed.
      this.dayClosed = !!snap.closed_day && snap.closed_day === snap.open_day;
      this.closedDay = this.dayClosed ? snap.closed_day : '';
      this.recomputeEta();
    }

    /* Only the per-counter waiting counts, from a fresh read (GET /live). */
    applyQueued(snap) {
      for (const c of snap.counters || []) {
        const known = this.counters.get(String(c.id));
        if (known) known.queued = Number(c.queued) || 0;
      }
      if (snap.totals) this.totals = snap.totals;
    }

    banner() {
      for (const call of this.recent) {
        const c = this.counters.get(call.counter);
        if (c && c.state === 'open' && c.current && c.current.id && c.current.id === call.id) return call;
      }
      return null;
    }

    /* Tickets waiting for one particular counter: the center's count less the services'. */
    waitingForCounters() {
      let inQueues = 0;
      for (const s of this.services.values()) inQueues += s.waiting;
      const total = this.totals && typeof this.totals.waiting === 'number' ? this.totals.waiting : inQueues;
      return Math.max(0, total - inQueues);
    }
    queuedAtCounters() {
      let n = 0;
      for (const c of this.counters.values()) n += c.queued || 0;
      return n;
    }

    /* The engine's end of the center's day (day_closed, after the expired tickets, the
       lapsed bookings and the closed counters it sent): every counter is closed, nobody
       waits, and the day's calls are history, so the board starts the next day clean.
       info: {day: 'YYYYMMDD', expired, no_show, counters}. */
    closeDay(info) {
      this.dayClosed = true;
      this.closedDay = (info && info.day) || '';
      for (const c of this.counters.values()) {
        c.state = 'closed'; c.reason = ''; c.current = null; c.queued = 0;
      }
      for (const s of this.services.values()) s.waiting = 0;
      this.recent = [];
      this.totals = Object.assign({}, this.totals, { waiting: 0, called: 0, serving: 0 });
      this.recomputeEta();
    }

    countQueued(type, ticket, c, fresh, info) {
      if (fresh && fresh.status === 'waiting') {
        const target = this.counters.get(String(fresh.target_counter || ''));
        if (target) target.queued = (target.queued || 0) + 1;
      }
      if (type === 'counter_closed' && c) {
        const closed = this.counters.get(String(c.id));
        if (closed) closed.queued = 0;  // its own tickets go back to their service queue
      }
      if (type === 'requeued' && info && info.from_counter !== undefined) {
        // One of them, on its way back (the counter's close follows): one fewer there.
        const from = this.counters.get(String(info.from_counter));
        if (from && from.queued) from.queued -= 1;
      }
      const target = ticket && this.counters.get(String(ticket.target_counter || ''));
      if (!target || !target.queued) return;
      if (type === 'called' || (['cancelled', 'expired', 'transferred'].includes(type) && !(c && c.ticket))) {
        target.queued -= 1;
      }
    }

    /* Returns the call to announce ({number, counter, service, priority, recall, at}) or null. */
    applyEvent(ev, id) {
      if (!ev || typeof ev.type !== 'string') throw new Error('event without a type');
      if (id) this.lastId = id;
      if (ev.totals) this.totals = ev.totals;
      if (ev.type === 'day_closed') { this.closeDay(ev.info); return null; }
      const ticket = ticketOf(ev.ticket);
      const c = ev.counter;
      if (c && c.id !== undefined) {
        const id = String(c.id);
        const known = this.counters.get(id) || { id, name: id, state: 'closed', reason: '', services: [], current: null, queued: 0 };
        known.state = c.state || known.state;
        known.reason = c.reason || '';
        if (c.services !== undefined) known.services = splitServices(c.services);
        if (!c.ticket) known.current = null;
        else if (ticket && ticket.id === c.ticket) known.current = ticket;
        else if (!known.current || known.current.id !== c.ticket) known.current = { id: c.ticket, number: '', priority: '', status: '', service: '' };
        this.counters.set(id, known);
      }
      if (ev.type === 'expired' && ticket) {
        for (const k of this.counters.values()) if (k.current && k.current.id === ticket.id) k.current = null;
      }
      this.countQueued(ev.type, ev.ticket, c, ev.new_ticket, ev.info);
      for (const [service, waiting] of Object.entries(ev.waiting || {})) {
        const row = this.services.get(service) || { id: service, waiting: 0, mean_s: 0, eta_s: null };
        row.waiting = waiting;
        this.services.set(service, row);
      }
      this.recomputeEta();
      if (!CALLS.includes(ev.type) || !ticket || !c) return null;
      this.dayClosed = false;
      const call = { number: ticket.number, counter: String(c.id), service: ticket.service,
                     priority: ticket.priority, at: ev.at || 0, type: ev.type, id: ticket.id,
                     recall: ev.type === 'recalled' };
      this.recent.unshift(call);
      this.recent.length = Math.min(this.recent.length, RECENT);
      return call;
    }

    /* The server's rule (queue_server/rules/eta.py): waiting × mean service time ÷ open
       counters serving the service; null when none is open. */
    recomputeEta() {
      for (const row of this.services.values()) {
        let active = 0;
        for (const c of this.counters.values()) {
          if (c.state === 'open' && c.services.includes(row.id)) active += 1;
        }
        row.active = active;
        row.eta_s = active > 0 ? Math.round((row.waiting * row.mean_s) / active) : null;
      }
    }
  }
  Q.Board = Board;
})();
