/* Online booking on a phone: /book[?lang=en][&service=land]. Service → each center's
   estimated wait (GET /api/v1/suggest), the shortest suggested → now or an appointment,
   optional CCCD → POST /api/v1/bookings → the ticket page (its secret in the #fragment). */
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
    when: ['Thời gian hẹn', 'Appointment time'],
    cccd: ['Số CCCD (không bắt buộc)', 'Citizen ID (CCCD, optional)'],
    cccdHelp: ['12 chữ số; chỉ lưu dạng mã hóa, để hạn chế đặt trùng.',
               '12 digits; stored only as a hash, to limit duplicate bookings.'],
    submit: ['Đặt số', 'Book'],
    backCenter: ['← Đổi trung tâm', '← Change center'],
    best: ['Gợi ý: chờ ít nhất', 'Suggested: shortest wait'],
    waiting: ['{n} người đang chờ', '{n} waiting'],
    summary: ['{s} tại {c}', '{s} at {c}'],
    closed: ['Trung tâm đang đóng cửa vào thời điểm này. Hãy đặt lịch hẹn trong giờ làm việc.',
             'The center is closed at that time. Book an appointment within opening hours.'],
    needWhen: ['Hãy chọn thời gian hẹn.', 'Choose an appointment time.'],
    failed: ['Không đặt được số', 'Booking failed'],
  });
  let services = [];
  let service = null;
  let suggestions = [];
  let chosen = null;
  let showAll = false;

  const name = (x) => (Q.lang === 'en' ? x.name_en : x.name);

  function step(id) {
    for (const s of ['step-service', 'step-center', 'step-book']) $(s).hidden = s !== id;
    window.scrollTo(0, 0);
  }
  function error(title, text) {
    const box = $('error');
    if (!title) { box.hidden = true; return; }
    box.replaceChildren(Q.el('strong', {}, title), text || '');
    box.hidden = false;
  }

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
    $('book-summary').textContent = tr('summary', { s: name(service), c: r.name });
    step('step-book');
  }

  function localInput(date) {
    const pad = (n) => String(n).padStart(2, '0');
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + 'T' + pad(date.getHours()) + ':' + pad(date.getMinutes());
  }

  async function submit(event) {
    event.preventDefault();
    error(null);
    const later = $('book-form').mode.value === 'later';
    const body = { center: chosen.center, service: service.id };
    if (later) {
      if (!$('when').value) { error(tr('needWhen')); return; }
      body.appointment_at = $('when').value + ':00';
    }
    const cccd = $('cccd').value.trim();
    if (cccd) body.citizen_id = cccd;
    $('book-submit').disabled = true;
    try {
      const key = 'b-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
      const issued = await Q.api('/api/v1/bookings', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      const target = new URL(issued.ticket_url, location.href);
      if (Q.lang === 'en') target.searchParams.set('lang', 'en');
      location.assign(target.toString());
    } catch (e) {
      error(tr('failed'), e.status === 409 ? tr('closed') : e.reason || e.message);
      $('book-submit').disabled = false;
    }
  }

  async function main() {
    const texts = { title: 'title', 'service-title': 'serviceTitle', 'center-title': 'centerTitle',
      'center-help': 'centerHelp', 'back-service': 'backService', 'book-title': 'bookTitle',
      'mode-now': 'modeNow', 'mode-later': 'modeLater', 'when-label': 'when', 'cccd-label': 'cccd',
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
    const syncMode = () => {
      const later = $('book-form').mode.value === 'later';
      $('when-box').hidden = !later;
      $('when').disabled = !later; // a hidden field must not block the form
    };
    $('book-form').addEventListener('change', syncMode);
    syncMode();
    const soon = new Date(Date.now() + 3600 * 1000);
    soon.setMinutes(Math.ceil(soon.getMinutes() / 15) * 15, 0, 0);
    $('when').value = localInput(soon);
    $('when').min = localInput(new Date());
    $('when').max = localInput(new Date(Date.now() + 29 * 86400 * 1000));
    try {
      services = (await Q.api('/api/v1/services')).services;
    } catch (e) {
      error(e.title, e.reason);
      return;
    }
    renderServices();
    const wanted = services.find((s) => s.id === Q.params.get('service'));
    if (wanted) pickService(wanted);
  }

  main();
})();
