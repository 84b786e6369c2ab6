/* The ticket kiosk: /kiosk/{center}?token=dev.…[&lang=en][&print=0]. Services grouped by
   field, an optional priority group, the ticket with its QR code, printed on an 80 mm roll.
   The QR is drawn by the server (POST /api/v1/qr: the link holds the ticket's secret, so it
   travels in a body, never in a URL). "Tôi đã đặt lịch": an appointment holder types the
   booking's code on the screen's keypad, or scans its QR code (a keyboard-wedge scanner, as
   for the chip ID card: cccd.js), and gets the ticket (POST …/check-in). Test hooks:
   window.qmsLastTicket, window.qmsCheckedIn. */
(function () {
  'use strict';
  const Q = window.QMS;
  const $ = (id) => document.getElementById(id);
  const tr = Q.translator({
    province: ['Trung tâm Phục vụ hành chính công', 'Public Administration Service Center'],
    prompt: ['Chạm vào dịch vụ để lấy số thứ tự', 'Touch a service to take a ticket'],
    priorityOpen: ['★ Đối tượng ưu tiên', '★ Priority groups'],
    priorityTitle: ['Ông/Bà thuộc đối tượng ưu tiên nào?', 'Which priority group are you in?'],
    priorityNone: ['Không ưu tiên', 'No priority'],
    priorityChosen: ['Ưu tiên: {p}', 'Priority: {p}'],
    waiting: ['{n} người đang chờ', '{n} waiting'],
    ticketLabel: ['Số thứ tự của ông/bà', 'Your ticket number'],
    ahead: ['Số người đứng trước: {n}', 'Ahead of you: {n}'],
    eta: ['Thời gian chờ dự kiến: {t}', 'Estimated wait: {t}'],
    qrHint: ['Quét mã để theo dõi lượt trên điện thoại', 'Scan to follow your turn on your phone'],
    scanHint: ['Có thể quét mã QR trên CCCD gắn chip', 'You may scan the QR code of a chip ID card'],
    cccdTitle: ['Đã đọc căn cước công dân', 'ID card read'],
    cccdWho: ['{name}, sinh ngày {dob} ({age} tuổi), số CCCD {id}', '{name}, born {dob} ({age}), ID card {id}'],
    cccdSuggest: ['Ông/Bà từ 60 tuổi trở lên là người cao tuổi theo Luật Người cao tuổi 2009 và được ưu tiên. Lấy số ưu tiên?', 'Citizens aged 60 or more are elderly by the Law on the Elderly (2009) and have priority. Take a priority ticket?'],
    cccdYes: ['★ Đúng, lấy số ưu tiên', '★ Yes, priority ticket'],
    cccdNo: ['Không cần ưu tiên', 'No priority'],
    citizenChosen: ['CCCD {id}', 'ID card {id}'],
    cccdBad: ['Không đọc được mã QR của CCCD, ông/bà vui lòng quét lại', 'The ID card QR code could not be read; please scan again'],
    printAgain: ['In lại', 'Print again'],
    done: ['Xong', 'Done'],
    closed: ['Trung tâm đã đóng cửa', 'Center closed'],
    closedSub: ['Center closed', 'Trung tâm đã đóng cửa'],
    hours: ['Giờ làm việc', 'Opening hours'],
    dayOff: ['Nghỉ', 'Closed'],
    pLabel: ['SỐ THỨ TỰ', 'TICKET'],
    noToken: ['Chưa có mã thiết bị', 'No device token'],
    noTokenText: ['Nhập mã thiết bị kiosk do quản trị viên cấp (bắt đầu bằng dev.).',
                  'Enter the kiosk device token from your administrator (it starts with dev.).'],
    badToken: ['Mã thiết bị không hợp lệ hoặc đã bị thu hồi', 'Device token invalid or revoked'],
    wrongDevice: ['Mã này không phải mã kiosk của trung tâm này', 'This is not a kiosk token of this center'],
    unknownCenter: ['Không tìm thấy trung tâm “{c}”', 'Unknown center “{c}”'],
    save: ['Lưu', 'Save'],
    tokenLabel: ['Mã thiết bị kiosk (dev.…)', 'Kiosk device token (dev.…)'],
    failed: ['Không lấy được số, vui lòng thử lại', 'Could not issue a ticket, please try again'],
  });
  const DAYS = { mon: ['Thứ Hai', 'Monday'], tue: ['Thứ Ba', 'Tuesday'], wed: ['Thứ Tư', 'Wednesday'],
    thu: ['Thứ Năm', 'Thursday'], fri: ['Thứ Sáu', 'Friday'], sat: ['Thứ Bảy', 'Saturday'], sun: ['Chủ Nhật', 'Sunday'] };
  const RETURN_AFTER_MS = 30000;
  const CHECKIN_IDLE_MS = 90000;   // a check-in screen nobody uses goes back to the start
  // A booking's QR text as the scanner types it (queue_server/booking.py QR_CODE).
  const CHECKIN_QR = /^[0-9A-Za-z_]{1,16}-\d{8}-[A-Z]{1,3}\d{3,5}\.\d{4}$/;
  const center = Q.pathPart(1);
  const autoPrint = Q.params.get('print') !== '0';
  let config = null;
  let token = '';
  let priority = '';
  let backTimer = null;
  let waits = null; // the last live waits read, so a redraw never waits for the network

  const name = (x) => (Q.lang === 'en' ? x.name_en : x.name);

  function screen(id) {
    for (const s of ['home', 'priorities', 'ticket', 'closed', 'cccd', 'checkin']) $(s).hidden = s !== id;
  }
  function showMessage(title, text, askToken) {
    $('message-title').textContent = title;
    $('message-text').textContent = text || '';
    $('token-form').hidden = !askToken;
    $('message').hidden = false;
  }
  function toast(text) {
    $('toast').textContent = text;
    $('toast').hidden = false;
    setTimeout(() => { $('toast').hidden = true; }, 6000);
  }

  function renderHome() {
    const fields = [];
    for (const s of config.services) {
      let group = fields.find((g) => g.field === s.field);
      if (!group) fields.push((group = { field: s.field, services: [] }));
      group.services.push(s);
    }
    $('groups').replaceChildren(...fields.map((g) => Q.el('section', { class: 'group' },
      Q.el('h3', {}, g.field),
      Q.el('div', { class: 'services' }, g.services.map((s) => {
        const w = waits && waits.find((x) => x.id === s.id);
        return Q.el('button', { type: 'button', class: 'service', 'data-service': s.id, onclick: () => issue(s) },
          Q.el('span', { class: 's-prefix' }, s.prefix),
          Q.el('span', { class: 's-name' }, name(s)),
          Q.el('span', { class: 's-wait' }, w ? tr('waiting', { n: w.waiting }) + (w.waiting ? ' · ' + Q.formatWait(w.estimated_wait_s) : '') : ''));
      })))));
    const chosen = config.priorities.find((p) => p.id === priority);
    $('priority-chosen').hidden = !chosen;
    $('priority-chosen').replaceChildren(chosen ? tr('priorityChosen', { p: name(chosen) }) : '',
      chosen ? Q.el('button', { type: 'button', class: 'chip-x', 'aria-label': '✕', onclick: () => { priority = ''; refresh(); } }, '✕') : '');
    $('priority-open').classList.toggle('active', !!chosen);
    $('citizen-chosen').hidden = !citizen;
    $('citizen-chosen').textContent = citizen ? tr('citizenChosen', { id: citizen.masked }) : '';
  }

  /* A chip ID card's QR, typed by the scanner (cccd.js): the id is shown masked, the date of
     birth of a citizen 60 or older suggests the elderly priority, to be confirmed. Nothing of
     it is stored or sent: it is forgotten with the ticket. */
  let citizen = null;
  function onCard(card) {
    if (!config || $('home').hidden && $('priorities').hidden) return;
    const age = Q.Cccd.age(card.birth, new Date(Q.clock.now()));
    citizen = { masked: Q.Cccd.masked(card.id) };
    const elderly = age !== null && age >= Q.Cccd.ELDERLY_AGE && config.priorities.some((p) => p.id === 'elderly');
    if (!elderly) { screen('home'); refresh(); return; }
    $('cccd-who').textContent = tr('cccdWho', { name: card.name || '—', dob: Q.Cccd.formatDate(card.birth),
                                                age, id: citizen.masked });
    $('cccd-suggest').textContent = tr('cccdSuggest');
    screen('cccd');
    $('cccd-yes').focus();
  }
  function forgetCitizen() { citizen = null; }

  function renderPriorities() {
    $('priority-list').replaceChildren(...config.priorities.map((p) =>
      Q.el('button', { type: 'button', class: 'priority' + (p.id === priority ? ' active' : ''), 'data-priority': p.id,
                       onclick: () => { priority = p.id; screen('home'); refresh(); } }, '★ ' + name(p))));
  }

  function renderClosed() {
    $('hours').replaceChildren(...Object.entries(config.hours).map(([day, spans]) =>
      Q.el('tr', {}, Q.el('th', {}, DAYS[day][Q.lang === 'en' ? 1 : 0]),
        Q.el('td', {}, spans.length ? spans.join(', ') : tr('dayOff')))));
    screen('closed');
  }

  async function refresh() {
    renderHome(); // at once with what is known (a chosen priority shows immediately) …
    try {
      waits = (await Q.api('/api/v1/centers/' + encodeURIComponent(center))).services;
    } catch (error) { /* the buttons work without the counts */ }
    if (!$('home').hidden) renderHome(); // … then with fresh waits
  }

  async function qrImage(link) {
    const response = await fetch('/api/v1/qr', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                 body: JSON.stringify({ data: link }) });
    if (!response.ok) throw new Error('QR HTTP ' + response.status);
    return URL.createObjectURL(await response.blob());
  }

  async function issue(service) {
    $('busy').hidden = false;
    try {
      const body = { service: service.id, priority: priority || null };
      const key = 'k-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
      const issued = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/tickets',
                                 { method: 'POST', body, token, headers: { 'Idempotency-Key': key } });
      priority = '';
      forgetCitizen();
      await showTicket(issued, service);
    } catch (error) {
      if (error.status === 409) { renderClosed(); return; }
      if (error.status === 401) { showMessage(tr('badToken'), error.reason, true); Q.forgetDeviceToken('kiosk', center); return; }
      toast(tr('failed') + ' — ' + (error.title || '') + ': ' + (error.reason || error.message));
    } finally {
      $('busy').hidden = true;
    }
  }

  // ---------------------------------------------------------------- a booking's check-in

  let checkinTimer = null;
  function openCheckin(scanned) {
    if (!config || !token) return;
    clearTimeout(backTimer);
    forgetCitizen();
    screen('checkin');
    $('checkin-error').hidden = true;
    $('checkin-code').value = scanned || '';
    $('checkin-code').focus();
    clearTimeout(checkinTimer);
    checkinTimer = setTimeout(goHome, CHECKIN_IDLE_MS);
    if (scanned) checkIn(scanned);
  }

  function renderKeypad() {
    const letters = [...new Set(config.services.map((s) => s.prefix))].sort();
    const keys = [...'1234567890', ...letters, '-'];
    const press = (key) => {
      const input = $('checkin-code');
      input.value = key === '⌫' ? input.value.slice(0, -1) : (input.value + key).slice(0, 64);
      clearTimeout(checkinTimer);
      checkinTimer = setTimeout(goHome, CHECKIN_IDLE_MS);
    };
    $('keypad').replaceChildren(...keys.map((k) => Q.el('button', { type: 'button', 'data-key': k, onclick: () => press(k) }, k)),
      Q.el('button', { type: 'button', class: 'wide', 'data-key': 'back', 'aria-label': '⌫', onclick: () => press('⌫') }, '⌫'));
  }

  /* A refusal in the page's language, with the engine's days (YYYYMMDD) as people write them. */
  function refusal(error) {
    const problem = error.problem || {};
    const fields = Object.assign({}, problem.fields || {});
    for (const key of ['day', 'today']) {
      const m = /^(\d{4})(\d{2})(\d{2})$/.exec(String(fields[key] || ''));
      if (m) fields[key] = m[3] + '/' + m[2] + '/' + m[1];
    }
    return (problem.reason && Q.lang === 'vi' && Q.message(problem.reason, fields)) || Q.describe(error);
  }

  async function checkIn(code) {
    const text = String(code || '').trim().toUpperCase();
    if (!text) return;
    $('busy').hidden = false;
    $('checkin-error').hidden = true;
    try {
      const key = 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
      const out = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/check-in',
                              { method: 'POST', body: { code: text }, token, headers: { 'Idempotency-Key': key } });
      let state = null;
      try {
        state = await Q.api('/api/v1/tickets/' + encodeURIComponent(out.ticket.id), { token });
      } catch (e) { /* the ticket is checked in: its place is a nicety */ }
      clearTimeout(checkinTimer);
      await showCheckedIn(out.ticket, state);
    } catch (error) {
      if (error.status === 401) { showMessage(tr('badToken'), error.reason, true); Q.forgetDeviceToken('kiosk', center); return; }
      if (!$('checkin').hidden || $('home').hidden) screen('checkin');
      $('checkin-error').textContent = refusal(error);
      $('checkin-error').hidden = false;
      $('checkin-code').select();
    } finally {
      $('busy').hidden = true;
    }
  }

  /* The checked-in booking as a ticket: its number, where to wait, printed like any ticket
     (its QR links to the ticket's public page: the citizen's own link holds the secret). */
  async function showCheckedIn(t, state) {
    const service = config.services.find((s) => s.id === t.service) || { id: t.service, name: t.service, name_en: t.service };
    const counters = config.center.counters.filter((c) => c.services.includes(t.service))
      .map((c) => (Q.lang === 'en' ? c.id : c.name)).join(', ');
    const late = t.queue !== 'A';
    const facts = [Q.message(late ? 'kiosk_checkin_late' : 'kiosk_checkin_ok')];
    if (t.appt) facts.push(Q.message('kiosk_appointment_at', { time: Q.formatTime(t.appt) }));
    if (counters) facts.push(Q.message('kiosk_checkin_where', { counters }));
    if (state && state.ahead !== null && state.ahead !== undefined) facts.push(tr('ahead', { n: state.ahead }));
    if (state) facts.push(tr('eta', { t: Q.formatWait(state.estimated_wait_s) }));
    const url = new URL('/t/' + encodeURIComponent(t.id), location.href).toString();
    window.qmsCheckedIn = { number: t.number, id: t.id, late, url };
    await showTicket({ ticket: t, ticket_url: url, facts }, service);
  }

  async function showTicket(issued, service) {
    const t = issued.ticket;
    if (!issued.facts) window.qmsLastTicket = { number: t.number, id: t.id, url: issued.ticket_url };
    const prio = config.priorities.find((p) => p.id === t.priority);
    const facts = issued.facts || [];
    if (!issued.facts) {
      if (issued.ahead !== null && issued.ahead !== undefined) facts.push(tr('ahead', { n: issued.ahead }));
      facts.push(tr('eta', { t: Q.formatWait(issued.estimated_wait_s) }));
    }
    $('ticket-number').textContent = t.number;
    $('ticket-number').classList.toggle('prio', !!prio);
    $('ticket-service').textContent = name(service) + (prio ? ' · ★ ' + name(prio) : '');
    $('ticket-facts').replaceChildren(...facts.map((f) => Q.el('div', {}, f)));
    $('p-center').textContent = config.center.name;
    $('p-number').textContent = t.number;
    $('p-service').textContent = name(service);
    $('p-prio').textContent = prio ? '★ ' + name(prio) : '';
    $('p-facts').textContent = facts.join(' — ');
    const at = t.arrived || t.issued; // a checked-in booking: when it arrived
    $('p-time').textContent = Q.formatDate(at) + ' ' + Q.formatTime(at);
    $('p-hint').textContent = tr('qrHint');
    $('ticket-qr').removeAttribute('src');
    screen('ticket');
    try {
      const src = await qrImage(issued.ticket_url);
      await Promise.all([['ticket-qr', src], ['p-qr', src]].map(([id, url]) => new Promise((resolve) => {
        $(id).onload = resolve; $(id).onerror = resolve; $(id).src = url;
      })));
    } catch (error) {
      console.warn('qms: no QR code', error);
    }
    fitPage();
    if (autoPrint) window.print();
    clearTimeout(backTimer);
    backTimer = setTimeout(goHome, RETURN_AFTER_MS);
  }

  /* @page height = the ticket's own height, measured off-screen (96 px = 25.4 mm). */
  function fitPage() {
    const ticket = $('print-ticket');
    ticket.classList.add('measuring');
    const mm = Math.ceil((ticket.getBoundingClientRect().height * 25.4) / 96) + 2;
    ticket.classList.remove('measuring');
    // A constructed stylesheet, not a <style> element: the page's CSP allows no inline style.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync('@media print { @page { size: 80mm ' + mm + 'mm; margin: 0; } }');
    document.adoptedStyleSheets = [sheet];
  }

  function goHome() {
    clearTimeout(backTimer);
    clearTimeout(checkinTimer);
    forgetCitizen();
    screen(config.open_now ? 'home' : 'closed');
    refresh();
  }

  async function checkHours() {
    try {
      const fresh = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/page-config');
      const changed = fresh.open_now !== config.open_now;
      config = fresh;
      if (changed && $('ticket').hidden) {
        if (config.open_now) goHome(); else renderClosed();
      }
    } catch (error) { /* keep the current screen */ }
  }

  async function checkToken() {
    try {
      const me = await Q.api('/api/v1/auth/me', { token });
      if (!['kiosk', 'supervisor'].includes(me.role) || me.center !== center) {
        showMessage(tr('wrongDevice'), me.role + ' / ' + (me.center || '—'), true);
        return false;
      }
      return true;
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        Q.forgetDeviceToken('kiosk', center);
        showMessage(tr('badToken'), error.reason, true);
        return false;
      }
      return true; // the network: try when issuing
    }
  }

  function staticTexts() {
    const ids = { province: 'province', prompt: 'prompt', 'priority-open': 'priorityOpen',
      'priority-title': 'priorityTitle', 'priority-none': 'priorityNone', 'ticket-label': 'ticketLabel',
      'qr-hint': 'qrHint', 'print-again': 'printAgain', done: 'done', 'closed-title': 'closed',
      'closed-sub': 'closedSub', 'hours-title': 'hours', 'p-label': 'pLabel', 'token-label': 'tokenLabel',
      'token-save': 'save', 'scan-hint': 'scanHint', 'cccd-title': 'cccdTitle', 'cccd-yes': 'cccdYes',
      'cccd-no': 'cccdNo' };
    for (const [id, key] of Object.entries(ids)) $(id).textContent = tr(key);
    const other = new URLSearchParams(Q.params);
    other.set('lang', Q.lang === 'en' ? 'vi' : 'en');
    $('lang-switch').href = '?' + other.toString();
    $('lang-switch').textContent = Q.lang === 'en' ? 'Tiếng Việt' : 'English';
  }

  async function main() {
    staticTexts();
    const tick = () => { $('time').textContent = Q.formatTime(Q.clock.now()); };
    tick();
    setInterval(tick, 5000);
    $('priority-open').addEventListener('click', () => { renderPriorities(); screen('priorities'); });
    $('priority-none').addEventListener('click', () => { priority = ''; screen('home'); refresh(); });
    $('done').addEventListener('click', goHome);
    $('cccd-yes').addEventListener('click', () => { priority = 'elderly'; screen('home'); refresh(); });
    $('cccd-no').addEventListener('click', () => { priority = ''; screen('home'); refresh(); });
    // The scanner reads a chip ID card or a booking's QR code; anything else is said once.
    Q.Cccd.listen(onCard, () => toast(tr('cccdBad')), (text) => {
      if (!CHECKIN_QR.test(text)) return false;
      if ($('ticket').hidden && $('message').hidden) openCheckin(text);
      return true;
    });
    $('booking-open').addEventListener('click', () => openCheckin(''));
    $('checkin-back').addEventListener('click', goHome);
    $('checkin-form').addEventListener('submit', (event) => {
      event.preventDefault();
      checkIn($('checkin-code').value);
    });
    $('print-again').addEventListener('click', () => window.print());
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      Q.storeDeviceToken('kiosk', center, $('token-input').value.trim());
      location.reload();
    });
    token = Q.deviceToken('kiosk', center); // stored, and out of the address bar, at once
    try {
      config = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/page-config');
    } catch (error) {
      showMessage(error.status === 404 ? tr('unknownCenter', { c: center }) : error.title, error.reason, false);
      return;
    }
    Q.clock.learn(config.now);
    await Q.messagesReady;
    for (const [id, reason] of Object.entries({ 'booking-open': 'kiosk_have_booking', 'checkin-title': 'kiosk_checkin_title',
      'checkin-help': 'kiosk_checkin_help', 'checkin-submit': 'kiosk_checkin_submit', 'checkin-back': 'kiosk_back' })) {
      $(id).textContent = (id === 'booking-open' ? '📅 ' : '') + Q.message(reason);
    }
    renderKeypad();
    $('center-name').textContent = config.center.name;
    document.title = config.center.name + ' — ' + tr('prompt');
    if (!token) { showMessage(tr('noToken'), tr('noTokenText'), true); return; }
    if (!(await checkToken())) return;
    setInterval(checkHours, 60000);
    setInterval(() => { if (!$('home').hidden) refresh(); }, 20000);
    if (!config.open_now) { renderClosed(); return; }
    screen('home');
    refresh();
  }

  main();
})();
