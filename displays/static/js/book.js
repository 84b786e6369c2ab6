/* Online booking on a phone: /book[?lang=en][&service=land]. Service → each center's
   estimated wait (GET /api/v1/suggest), the shortest suggested → join the queue now, or an
   appointment: the center's opening hours for the coming days (GET …/calendar, holidays
   marked), a day, a free slot of it (GET …/slots; full ones shown disabled) → optional CCCD →
   POST /api/v1/bookings. "Now" opens the ticket page; an appointment shows its confirmation:
   the number, the slot, the check-in code and its QR code, what to do on arrival. A refused
   slot (full, not offered, a day off) comes back with the next free slots, offered as
   choices. Sentences come from the message catalogue (GET /api/v1/messages). */
(function () {
  'use strict';
  const Q = window.QMS;
  const $ = (id) => document.getElementById(id);
  const tr = Q.translator({
    title: ['Đặt số thứ tự trực tuyến', 'Book a ticket online'],
    serviceTitle: ['1. Chọn dịch vụ', '1. Choose a service'],
    centerTitle: ['2. Chọn trung tâm', '2. Choose a center'],
    centerHelp: ['Thời gian chờ dự kiến hiện tại; trung tâm chờ ngắn nhất được gợi ý.',
                 'Current estimated waits; the shortest is suggested.'],
    search: ['Tìm theo tên xã, phường…', 'Search by commune or ward…'],
    showAll: ['Xem tất cả {n} trung tâm', 'Show all {n} centers'],
    backService: ['← Đổi dịch vụ', '← Change service'],
    bookTitle: ['3. Đặt số', '3. Book'],
    modeNow: ['Lấy số ngay', 'Join the queue now'],
    modeLater: ['Đặt lịch hẹn', 'Make an appointment'],
    cccd: ['Số CCCD (không bắt buộc)', 'Citizen ID (CCCD, optional)'],
    cccdHelp: ['12 chữ số; chỉ lưu dạng mã hóa, để hạn chế đặt trùng.',
               '12 digits; stored only as a hash, to limit duplicate bookings.'],
    submit: ['Lấy số ngay', 'Join the queue now'],
    backCenter: ['← Đổi trung tâm', '← Change center'],
    best: ['Gợi ý: chờ ít nhất', 'Suggested: shortest wait'],
    waiting: ['{n} người đang chờ', '{n} waiting'],
    summary: ['{s} tại {c}', '{s} at {c}'],
    failed: ['Không đặt được số', 'Booking failed'],
    done: ['{s} · {c}', '{s} · {c}'],
  });
  const DAYS_SHOWN = 14;
  let services = [];
  let service = null;
  let suggestions = [];
  let chosen = null;        // the center's suggestion row
  let showAll = false;
  let calendar = [];        // [{day, open, holiday, hours}]
  let day = null;           // the chosen day (YYYY-MM-DD)
  let slot = null;          // the chosen slot start (ISO, +07:00)
  let busy = false;

  const name = (x) => (Q.lang === 'en' ? x.name_en : x.name);
  const say = (reason, fields) => Q.message(reason, fields) || reason;

  /* "2026-12-03" as "T5 03/12" (Thu 03/12), computed in UTC so the phone's zone is moot. */
  function dayLabel(iso) {
    const [y, m, d] = iso.split('-').map(Number);
    const weekday = new Intl.DateTimeFormat(Q.lang === 'en' ? 'en-GB' : 'vi-VN', { weekday: 'short', timeZone: 'UTC' })
      .format(new Date(Date.UTC(y, m - 1, d)));
    return [weekday, String(d).padStart(2, '0') + '/' + String(m).padStart(2, '0')];
  }
  const dayText = (iso) => dayLabel(iso).join(' ');
  const hhmm = (isoTime) => isoTime.slice(11, 16);              // "…T09:30:00+07:00" → 09:30
  const slotText = (isoTime) => dayText(isoTime.slice(0, 10)) + ' ' + hhmm(isoTime);

  function step(id) {
    for (const s of ['step-service', 'step-center', 'step-book', 'step-done']) $(s).hidden = s !== id;
    window.scrollTo(0, 0);
  }
  function error(title, text) {
    const box = $('error');
    if (!title) { box.hidden = true; return; }
    box.replaceChildren(Q.el('strong', {}, title), text || '');
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  }

  // ------------------------------------------------------------------ service and center

  function renderServices() {
    const fields = [];
    for (const s of services) {
      let group = fields.find((g) => g.field === s.field);
      if (!group) fields.push((group = { field: s.field, items: [] }));
      group.items.push(s);
    }
    $('services').replaceChildren(...fields.flatMap((g) => [
      Q.el('h3', {}, g.field),
      ...g.items.map((s) => Q.el('button', { type: 'button', class: 'choice', 'data-service': s.id, onclick: () => pickService(s) },
        Q.el('span', {}, name(s)), Q.el('span', { class: 'muted' }, '›'))),
    ]));
  }

  async function pickService(s) {
    service = s;
    error(null);
    step('step-center');
    $('centers').replaceChildren(Q.el('p', { class: 'muted' }, '…'));
    try {
      suggestions = await Q.api('/api/v1/suggest?limit=54&service=' + encodeURIComponent(s.id));
    } catch (e) {
      error(e.title, e.reason);
      return;
    }
    showAll = false;
    renderCenters();
  }

  function renderCenters() {
    const query = $('center-search').value.trim().toLowerCase();
    const fold = (text) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').toLowerCase();
    let rows = suggestions;
    if (query) rows = rows.filter((r) => fold(r.name).includes(fold(query)));
    const limited = !query && !showAll ? rows.slice(0, 8) : rows;
    $('centers').replaceChildren(...limited.map((r, i) => Q.el('button', {
      type: 'button', class: 'choice' + (i === 0 && !query && r === suggestions[0] ? ' best' : ''),
      'data-center': r.center, onclick: () => pickCenter(r) },
      Q.el('span', {}, r.name, Q.el('small', {}, tr('waiting', { n: r.waiting }))),
      i === 0 && !query && r === suggestions[0] && r.estimated_wait_s !== null ? Q.el('span', { class: 'tag' }, tr('best')) : null,
      Q.el('span', { class: 'eta' }, Q.formatWait(r.estimated_wait_s)))));
    $('show-all').hidden = showAll || !!query || suggestions.length <= 8;
    $('show-all').textContent = tr('showAll', { n: suggestions.length });
  }

  function pickCenter(r) {
    chosen = r;
    error(null);
    calendar = [];
    day = null;
    slot = null;
    $('book-summary').textContent = tr('summary', { s: name(service), c: r.name });
    step('step-book');
    syncMode();
  }

  // ------------------------------------------------------------------ days and slots

  const later = () => $('book-form').mode.value === 'later';

  function syncMode() {
    $('when-box').hidden = !later();
    $('book-submit').textContent = later() ? say('book_submit_appointment') : tr('submit');
    renderChosen();
    if (later() && !calendar.length) loadCalendar();
  }

  function renderChosen() {
    const box = $('chosen-slot');
    box.hidden = !later();
    box.textContent = slot ? say('book_chosen_slot', { when: slotText(slot) }) : say('book_choose_slot');
    box.classList.toggle('muted', !slot);
  }

  async function loadCalendar() {
    $('days').replaceChildren(Q.el('p', { class: 'muted' }, '…'));
    try {
      const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date(Q.clock.now()));
      const answer = await Q.api('/api/v1/centers/' + encodeURIComponent(chosen.center) + '/calendar?start=' + today + '&days=' + DAYS_SHOWN);
      calendar = answer.days;
    } catch (e) {
      error(e.title, e.reason);
      return;
    }
    renderDays();
    const first = calendar.find((d) => d.open);
    if (first) pickDay(first.day);
  }

  function renderDays() {
    $('days').replaceChildren(...calendar.map((d) => {
      const [weekday, date] = dayLabel(d.day);
      const hours = d.open ? d.hours.map((h) => h.replace('-', '–')).join(', ')
        : say(d.holiday ? 'book_day_holiday' : 'book_day_off');
      return Q.el('button', { type: 'button', class: 'day' + (d.day === day ? ' active' : '') + (d.holiday ? ' holiday' : ''),
        'data-day': d.day, disabled: !d.open, 'aria-pressed': d.day === day ? 'true' : 'false',
        onclick: () => pickDay(d.day) },
        Q.el('b', {}, weekday + ' ' + date), Q.el('small', {}, hours));
    }));
  }

  async function pickDay(iso, wanted) {
    day = iso;
    slot = wanted || null;
    renderDays();
    renderChosen();
    $('slots-title').hidden = false;
    $('slots-title').textContent = say('book_slots_of', { day: dayText(iso) });
    $('slots').replaceChildren(Q.el('p', { class: 'muted' }, '…'));
    let answer;
    try {
      answer = await Q.api('/api/v1/centers/' + encodeURIComponent(chosen.center) + '/slots?service='
                           + encodeURIComponent(service.id) + '&day=' + iso);
    } catch (e) {
      error(e.title, e.reason);
      return;
    }
    if (day !== iso) return; // another day was chosen meanwhile
    const now = Q.clock.now();
    const rows = answer.slots.filter((s) => Date.parse(s.start) > now); // a past slot is no choice
    if (!rows.length) {
      $('slots').replaceChildren(Q.el('p', { class: 'muted' }, say('book_no_slot_left', { day: dayText(iso) })));
      return;
    }
    $('slots').replaceChildren(...rows.map((s) => Q.el('button', {
      type: 'button', class: 'slot' + (s.start === slot ? ' active' : ''), 'data-slot': s.start,
      disabled: s.free <= 0, 'aria-pressed': s.start === slot ? 'true' : 'false', onclick: () => pickSlot(s.start) },
      Q.el('b', {}, hhmm(s.start)), Q.el('small', {}, s.free > 0 ? say('book_slot_free', { free: s.free }) : say('book_slot_full')))));
  }

  function pickSlot(start) {
    slot = start;
    for (const b of document.querySelectorAll('#slots .slot')) {
      const on = b.dataset.slot === start;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    for (const b of document.querySelectorAll('#next-free button')) b.classList.toggle('active', b.dataset.slot === start);
    renderChosen();
  }

  /* A refused slot: the server's next free slots, as choices (a tap chooses it, the main
     button books it). */
  function offerNextFree(starts) {
    $('next-free-box').hidden = !starts.length;
    $('next-free-title').textContent = say('book_next_free');
    $('next-free').replaceChildren(...starts.map((start) => Q.el('button', {
      type: 'button', class: 'choice slot-choice', 'data-slot': start,
      onclick: () => { pickDay(start.slice(0, 10), start); pickSlot(start); } }, slotText(start))));
  }

  // ------------------------------------------------------------------ booking

  /* A refusal in the catalogue's words, its times as people read them. */
  function refusal(e) {
    const problem = e.problem || {};
    const fields = Object.assign({}, problem.fields || {});
    for (const key of ['slot', 'time']) {
      if (/^\d{12,}$/.test(String(fields[key] || ''))) fields[key] = slotText(isoOf(Number(fields[key])));
    }
    return (problem.reason && Q.message(problem.reason, fields)) || Q.describe(e);
  }
  function isoOf(ms) { // epoch ms → "YYYY-MM-DDTHH:MM" in Vietnam's time
    const local = new Date(ms + 7 * 3600 * 1000).toISOString();
    return local.slice(0, 16) + ':00+07:00';
  }

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    error(null);
    const body = { center: chosen.center, service: service.id };
    if (later()) {
      if (!slot) { error(say('book_choose_slot')); return; }
      body.appointment_at = slot;
    }
    const cccd = $('cccd').value.trim();
    if (cccd) body.citizen_id = cccd;
    busy = true;
    $('book-submit').disabled = true;
    try {
      const key = 'b-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
      const issued = await Q.api('/api/v1/bookings', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      const target = new URL(issued.ticket_url, location.href);
      if (Q.lang === 'en') target.searchParams.set('lang', 'en');
      if (!body.appointment_at) { location.assign(target.toString()); return; }
      await confirmation(issued, target.toString());
    } catch (e) {
      const next = ((e.problem || {}).fields || {}).next_free;
      if (Array.isArray(next)) offerNextFree(next);
      if (Array.isArray(next) && day) pickDay(day, null); // the grid shows the slot full now
      error(tr('failed'), refusal(e));
    } finally {
      busy = false;
      $('book-submit').disabled = false;
    }
  }

  async function qrImage(text) {
    const response = await fetch('/api/v1/qr', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                 body: JSON.stringify({ data: text }) });
    if (!response.ok) throw new Error('QR HTTP ' + response.status);
    return URL.createObjectURL(await response.blob());
  }

  /* The booking made: what the citizen needs on the day. The arrival window comes with the
     code from the server (GET /tickets/{id}/check-in-code, with the new ticket's secret). */
  async function confirmation(issued, ticketUrl) {
    const t = issued.ticket;
    window.qmsBooked = { id: t.id, number: t.number, code: issued.check_in_code, url: ticketUrl };
    $('done-title').textContent = say('book_done_title');
    $('done-number').textContent = t.number;
    $('done-what').textContent = tr('done', { s: name(service), c: chosen.name });
    $('done-when').textContent = say('book_chosen_slot', { when: slotText(isoOf(t.appt)) });
    $('done-code-label').textContent = say('book_code_label');
    $('done-code').textContent = issued.check_in_code;
    $('done-keep').textContent = say('booking_keep_link');
    $('done-ticket').textContent = say('book_open_ticket');
    $('done-ticket').href = ticketUrl;
    $('done-arrival').textContent = '';
    $('done-late').textContent = say('booking_arrival_late');
    step('step-done');
    try {
      const code = await Q.api('/api/v1/tickets/' + encodeURIComponent(t.id) + '/check-in-code',
                               { headers: { 'X-Ticket-Token': issued.token } });
      $('done-arrival').textContent = say('booking_arrival', { code: code.code, early: code.early_min, late: code.late_min });
    } catch (e) { /* the code itself is on the screen already */ }
    try {
      $('done-qr').src = await qrImage(issued.check_in_qr);
    } catch (e) { console.warn('qms: no QR code', e); }
    try { localStorage.setItem('qms.ticket.' + t.id, issued.token); } catch (e) { /* private mode */ }
  }

  async function main() {
    const texts = { title: 'title', 'service-title': 'serviceTitle', 'center-title': 'centerTitle',
      'center-help': 'centerHelp', 'back-service': 'backService', 'book-title': 'bookTitle',
      'mode-now': 'modeNow', 'mode-later': 'modeLater', 'cccd-label': 'cccd',
      'cccd-help': 'cccdHelp', 'book-submit': 'submit', 'back-center': 'backCenter' };
    for (const [id, key] of Object.entries(texts)) $(id).textContent = tr(key);
    document.title = tr('title');
    $('center-search').placeholder = tr('search');
    $('lang-switch').href = Q.lang === 'en' ? '?lang=vi' : '?lang=en';
    $('lang-switch').textContent = Q.lang === 'en' ? 'Tiếng Việt' : 'English';
    $('center-search').addEventListener('input', renderCenters);
    $('show-all').addEventListener('click', () => { showAll = true; renderCenters(); });
    $('back-service').addEventListener('click', () => step('step-service'));
    $('back-center').addEventListener('click', () => step('step-center'));
    $('book-form').addEventListener('submit', submit);
    $('book-form').addEventListener('change', (e) => { if (e.target.name === 'mode') syncMode(); });
    let loaded;
    try {
      [loaded] = await Promise.all([Q.api('/api/v1/services'), Q.messagesReady]);
    } catch (e) {
      error(e.title, e.reason);
      return;
    }
    services = loaded.services;
    $('hours-title').textContent = say('book_hours_title');
    $('when-help').textContent = say('book_choose_day');
    renderServices();
    const wanted = services.find((s) => s.id === Q.params.get('service'));
    if (wanted) pickService(wanted);
  }

  main();
})();
