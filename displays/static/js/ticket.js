/* A citizen's ticket: /t/{ticket_id}#tk.… The secret rides in the fragment and stays there,
   so the link still works when it is copied or sent to oneself (a fragment is never sent to a
   server nor written to a log); it is also kept in localStorage. Live over
   /ws/ticket/{id}?token=tk.…; a call raises a banner, a beep and a vibration; a transfer is
   followed to the new number. Without the secret the page still shows the public facts
   (number, center, status, position) from /api/v1/public/tickets/{id}, refreshed. */
(function () {
  'use strict';
  const Q = window.QMS;
  const $ = (id) => document.getElementById(id);
  const tr = Q.translator({
    title: ['Số thứ tự của ông/bà', 'Your ticket'],
    aheadLabel: ['người đứng trước', 'people ahead'],
    etaLabel: ['thời gian chờ dự kiến', 'estimated wait'],
    booked: ['Đã đặt lịch hẹn', 'Appointment booked'],
    waiting: ['Đang chờ', 'Waiting'],
    called: ['Đã được gọi', 'Called'],
    serving: ['Đang được phục vụ', 'Being served'],
    done: ['Đã hoàn thành', 'Done'],
    no_show: ['Vắng mặt khi được gọi', 'Missed (not present when called)'],
    transferred: ['Đã chuyển', 'Transferred'],
    cancelled: ['Đã hủy', 'Cancelled'],
    expired: ['Hết hạn: đã hết giờ làm việc', 'Expired: the working day ended'],
    calledTitle: ['ĐẾN LƯỢT ÔNG/BÀ!', "IT'S YOUR TURN!"],
    calledWhere: ['Mời đến {c}', 'Please go to {c}'],
    counter: ['Quầy {c}', 'Counter {c}'],
    soundOn: ['🔔 Bật âm báo khi đến lượt', '🔔 Turn on the sound alert'],
    cancel: ['Hủy số thứ tự', 'Cancel this ticket'],
    cancelSure: ['Bấm lần nữa để xác nhận hủy', 'Tap again to confirm'],
    ratingTitle: ['Ông/Bà đánh giá thế nào về dịch vụ?', 'How was the service?'],
    r1: ['Rất không hài lòng', 'Very unhappy'], r2: ['Không hài lòng', 'Unhappy'],
    r3: ['Bình thường', 'Neutral'], r4: ['Hài lòng', 'Happy'], r5: ['Rất hài lòng', 'Very happy'],
    thanks: ['Cảm ơn ông/bà đã đánh giá ({n}/5).', 'Thank you for your rating ({n}/5).'],
    live: ['Cập nhật trực tiếp', 'Live'],
    offline: ['Mất kết nối, đang thử lại…', 'Connection lost, reconnecting…'],
    appointment: ['Lịch hẹn: {t}', 'Appointment: {t}'],
    transferredTo: ['Ông/Bà đã được chuyển sang số {n}', 'You were moved to number {n}'],
    publicOnly: ['Thông tin công khai của số thứ tự', 'The public facts of this ticket'],
    publicOnlyText: ['Để hủy số, đánh giá hoặc được báo khi đến lượt, ông/bà hãy mở đường liên kết đầy đủ hoặc quét mã QR trên phiếu.',
                     'To cancel, rate or be alerted when called, open the full link or scan the QR code on the ticket.'],
    badLink: ['Đường liên kết không đúng', 'This is not a ticket link'],
    c4403: ['Mã không khớp với số thứ tự này', 'The secret does not match this ticket'],
    c4404: ['Không tìm thấy số thứ tự', 'Unknown ticket'],
    c4401: ['Thiếu mã của số thứ tự', 'The ticket secret is missing'],
  });
  let ticketId = Q.pathPart(1);
  let token = '';
  let state = null;
  let config = null;
  let alerted = '';
  let live = null;
  let codeFor = '';   // the booking whose check-in code is shown
  const sound = new Q.Sound();

  const storageKey = (id) => 'qms.ticket.' + id;
  function keepToken(id) { try { localStorage.setItem(storageKey(id), token); } catch (e) { /* */ } }

  function readToken() {
    const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
    if (hash.startsWith('tk.')) {
      token = hash;
      keepToken(ticketId);
      return;
    }
    try { token = localStorage.getItem(storageKey(ticketId)) || ''; } catch (e) { token = ''; }
    if (token) history.replaceState(null, '', location.pathname + location.search + '#' + token);
  }

  function error(title, text, info) {
    $('error').replaceChildren(Q.el('strong', {}, title), text || '');
    $('error').classList.toggle('info', !!info);
    $('error').hidden = !title;
  }

  function counterName(id) {
    const c = config && config.center.counters.find((x) => x.id === id);
    return c ? (Q.lang === 'en' ? tr('counter', { c: id }) : c.name) : tr('counter', { c: id });
  }

  function follow(newId) {
    if (!newId || newId === ticketId) return;
    ticketId = newId;
    if (token) keepToken(newId);
    history.replaceState(null, '', '/t/' + encodeURIComponent(newId) + location.search
                         + (token ? '#' + token : ''));
    error(null);
  }

  function render(s) {
    state = s;
    const t = s.ticket;
    if (t.id !== ticketId) follow(t.id);
    document.body.dataset.status = t.status;
    $('ticket').hidden = false;
    $('number').textContent = t.number;
    $('number').classList.toggle('prio', !!t.priority);
    const service = config && config.services.find((x) => x.id === t.service);
    $('service-name').textContent = service ? (Q.lang === 'en' ? service.name_en : service.name) : t.service;
    $('status').textContent = tr(t.status);
    const queued = t.status === 'waiting' || t.status === 'booked';
    $('facts').hidden = t.status !== 'waiting'; // a booked appointment has no place yet
    $('ahead').textContent = s.ahead === null || s.ahead === undefined ? '–' : String(s.ahead);
    $('eta').textContent = Q.formatWait(s.estimated_wait_s);
    $('note').textContent = t.appt ? tr('appointment', { t: Q.formatDate(t.appt) + ' ' + Q.formatTime(t.appt) }) : '';
    const isCalled = t.status === 'called';
    $('called').hidden = !isCalled;
    if (isCalled) $('called-where').textContent = tr('calledWhere', { c: counterName(t.counter) });
    $('cancel-box').hidden = !queued || !token;
    renderBooking(t);
    renderEnded(t);
    $('rating-box').hidden = t.status !== 'done' || !token;
    if (t.status === 'done' && token) renderRating(t.rating);
    if (isCalled && token) alertOnce(t);
  }

  const when = (ms) => Q.formatDate(ms) + ' ' + Q.formatTime(ms);

  /* A booking: its check-in code, the QR the kiosk scans, and what to do on arrival (the code
     needs the ticket's secret: GET /tickets/{id}/check-in-code). */
  async function renderBooking(t) {
    const booked = t.status === 'booked' && !!token;
    $('booking-box').hidden = !booked || codeFor !== t.id;
    if (!booked || codeFor === t.id) return;
    codeFor = t.id;
    try {
      const code = await Q.api('/api/v1/tickets/' + encodeURIComponent(t.id) + '/check-in-code',
                               { headers: { 'X-Ticket-Token': token } });
      $('code-title').textContent = Q.message('ticket_code_title');
      $('checkin-code').textContent = code.code;
      $('arrival').textContent = Q.message('booking_arrival', { code: code.code, early: code.early_min, late: code.late_min });
      $('arrival-late').textContent = Q.message('booking_arrival_late');
      $('checkin-qr').src = await qrImage(code.qr);
      $('booking-box').hidden = state.ticket.status !== 'booked';
    } catch (e) {
      codeFor = '';
      if (e.status !== 409) error(e.title, Q.describe(e)); // 409: no longer booked
    }
  }

  async function qrImage(text) {
    const response = await fetch('/api/v1/qr', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                 body: JSON.stringify({ data: text }) });
    if (!response.ok) throw new Error('QR HTTP ' + response.status);
    return URL.createObjectURL(await response.blob());
  }

  /* An ended ticket that was never served: the day closed first (expired), or a booking was
     not checked in by the end of its day (a no-show that was never called). Why, and what
     to do next. */
  function renderEnded(t) {
    const expired = t.status === 'expired';
    const lapsed = t.status === 'no_show' && t.channel === 'appointment' && !t.called;
    $('ended-box').hidden = !expired && !lapsed;
    if (!expired && !lapsed) return;
    $('ended-why').textContent = expired ? Q.message('ticket_expired_why', { number: t.number })
      : Q.message('booking_lapsed_why', { when: when(t.appt) });
    $('ended-todo').textContent = Q.message('ticket_expired_todo');
    $('book-again').textContent = Q.message('ticket_book_again');
    $('book-again').href = '/book?service=' + encodeURIComponent(t.service) + (Q.lang === 'en' ? '&lang=en' : '');
  }

  /* Without the secret: the facts anyone in the hall can see, refreshed every 20 s. */
  async function loadPublic() {
    const p = await Q.api('/api/v1/public/tickets/' + encodeURIComponent(ticketId));
    if (p.status === 'transferred' && p.to_ticket) {
      follow(p.to_ticket);
      return loadPublic();
    }
    $('center-name').textContent = p.center_name;
    render({ ticket: { id: p.id, number: p.number, service: p.service, status: p.status,
                       priority: '', counter: p.counter, appt: p.appt, rating: 0,
                       channel: '', called: 0 },  // public facts: an expiry is explained
             ahead: p.ahead, estimated_wait_s: p.estimated_wait_s });
    return p;
  }

  async function followPublic() {
    try {
      const p = await loadPublic();
      error(tr('publicOnly'), tr('publicOnlyText'), true);
      if (['done', 'cancelled', 'no_show', 'expired'].includes(p.status)) return;
    } catch (e) {
      if (e.status === 404 || e.status === 422) {
        error(e.status === 404 ? tr('c4404') : tr('badLink'), Q.describe(e));
        return;
      }
      error(e.title, Q.describe(e));
    }
    setTimeout(followPublic, 20000);
  }

  function alertOnce(t) {
    const key = t.id + ':' + t.called + ':' + t.recalls;
    if (alerted === key) return;
    alerted = key;
    sound.alert();
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 800]);
    window.qmsCalledAt = performance.now();
  }

  function renderRating(rating) {
    $('rated').hidden = !rating;
    $('rating').hidden = !!rating;
    if (rating) { $('rated').textContent = tr('thanks', { n: rating }); return; }
    $('rating').replaceChildren(...[1, 2, 3, 4, 5].map((level) => Q.el('button', {
      type: 'button', 'data-level': level, 'aria-label': tr('r' + level), onclick: () => rate(level) },
      level + '★', Q.el('small', {}, tr('r' + level)))));
  }

  async function rate(level) {
    try {
      await Q.api('/api/v1/tickets/' + encodeURIComponent(ticketId) + '/rating',
                  { method: 'POST', body: { level }, headers: { 'X-Ticket-Token': token } });
      renderRating(level);
    } catch (e) { error(e.title, Q.describe(e)); }
  }

  let confirmTimer = null;
  async function cancel() {
    const button = $('cancel');
    if (!button.classList.contains('sure')) {
      button.classList.add('sure');
      button.textContent = tr('cancelSure');
      confirmTimer = setTimeout(() => { button.classList.remove('sure'); button.textContent = tr('cancel'); }, 5000);
      return;
    }
    clearTimeout(confirmTimer);
    try {
      await Q.api('/api/v1/tickets/' + encodeURIComponent(ticketId) + '/cancel',
                  { method: 'POST', headers: { 'X-Ticket-Token': token } });
      await load();
    } catch (e) { error(e.title, Q.describe(e)); }
  }

  async function load() {
    const s = await Q.api('/api/v1/tickets/' + encodeURIComponent(ticketId), { headers: { 'X-Ticket-Token': token } });
    if (s.ticket.status === 'transferred' && s.ticket.to_ticket) {
      follow(s.ticket.to_ticket);
      return load();
    }
    render(s);
    return s;
  }

  function onFrame(frame) {
    if (frame.type === 'ticket') render(frame.ticket);
    else if (frame.type === 'event' && frame.event && frame.event.new_ticket) {
      follow(frame.event.new_ticket.id);
      error(tr('transferredTo', { n: frame.event.new_ticket.number }), '', true);
    } else if (frame.type === 'event' && frame.event && state) {
      const ev = frame.event;
      const mine = ev.ticket && ev.ticket.id === state.ticket.id;
      // The day's close ends this ticket: said at once (its fresh state follows).
      if (mine && (ev.type === 'expired' || ev.type === 'no_show')) {
        render(Object.assign({}, state, { ticket: Object.assign({}, state.ticket, ev.ticket) }));
      }
      if (mine && ev.type === 'requeued') error(Q.message('ticket_requeued'), '', true);
    }
  }

  function onState(s) {
    $('live').textContent = s === 'reconnecting' ? tr('offline') : tr('live');
    $('live').classList.toggle('off', s === 'reconnecting');
  }

  function onFatal(code, reason) {
    error(tr('c' + code), reason);
    $('live').textContent = '';
  }

  async function main() {
    document.title = tr('title');
    for (const [id, key] of Object.entries({ 'ahead-label': 'aheadLabel', 'eta-label': 'etaLabel',
      'called-title': 'calledTitle', 'sound-on': 'soundOn', cancel: 'cancel', 'rating-title': 'ratingTitle' })) {
      $(id).textContent = tr(key);
    }
    $('lang-switch').href = Q.lang === 'en' ? '?lang=vi' : '?lang=en';
    $('lang-switch').textContent = Q.lang === 'en' ? 'Tiếng Việt' : 'English';
    $('cancel').addEventListener('click', cancel);
    readToken();
    await Q.messagesReady; // the sentences of a booking and of an ended ticket
    if (!token) { followPublic(); return; }
    if (sound.available && sound.locked) {
      $('sound-on').hidden = false;
      $('sound-on').addEventListener('click', async () => { if (await sound.unlock()) $('sound-on').hidden = true; });
    }
    const centerId = ticketId.split('-')[0];
    try {
      config = await Q.api('/api/v1/centers/' + encodeURIComponent(centerId) + '/page-config');
      $('center-name').textContent = config.center.name;
    } catch (e) { /* the ticket read says what is wrong */ }
    try {
      await load();
    } catch (e) {
      error(e.status === 404 ? tr('c4404') : e.status === 403 ? tr('c4403') : e.title, Q.describe(e));
      return;
    }
    if (!config || !config.ws_port) return;
    // The ticket channel starts from the ticket's state every time: nothing to resume.
    live = new Q.LiveChannel({
      url: () => Q.liveBase(config) + '/ticket/' + encodeURIComponent(ticketId), token, resume: false,
      onFrame, onState, onFatal,
    }).start();
  }

  main();
})();
