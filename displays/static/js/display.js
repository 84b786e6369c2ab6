/* The lobby display: /display/{center}?token=dev.…[&counters=1,2][&services=land][&lang=en]
   [&speak=vi,en]. Shows each counter's current call, the last calls and the waits; a new call
   flashes, chimes and is spoken. Test and benchmark hooks: window.qmsLastShown (the last call
   put on screen, with performance.now()), window.qmsShown and window.qmsAudio (timings). */
(function () {
  'use strict';
  const Q = window.QMS;
  const $ = (id) => document.getElementById(id);
  const tr = Q.translator({
    province: ['Trung tâm Phục vụ hành chính công', 'Public Administration Service Center'],
    recent: ['Số vừa gọi', 'Latest calls'],
    waits: ['Đang chờ', 'Waiting'],
    counter: ['Quầy', 'Counter'],
    people: ['{n} người', '{n} waiting'],
    priority: ['Ưu tiên', 'Priority'],
    closed: ['Đóng', 'Closed'],
    paused: ['Tạm dừng', 'Paused'],
    open: ['Sẵn sàng', 'Ready'],
    serving: ['Đang phục vụ', 'Serving'],
    idle: ['Mời công dân chờ đến lượt', 'Please wait for your number'],
    queued: ['{n} người chờ riêng quầy này', '{n} waiting for this counter'],
    atCounters: ['Chờ tại một quầy nhất định', 'Waiting for a particular counter'],
    to: ['→ Quầy {c}', '→ Counter {c}'],
    noToken: ['Chưa có mã thiết bị', 'No device token'],
    noTokenText: ['Nhập mã thiết bị màn hình do quản trị viên cấp (bắt đầu bằng dev.).',
                  'Enter the display device token from your administrator (it starts with dev.).'],
    save: ['Lưu và kết nối', 'Save and connect'],
    tokenLabel: ['Mã thiết bị màn hình (dev.…)', 'Display device token (dev.…)'],
    c4401: ['Mã thiết bị không hợp lệ hoặc đã bị thu hồi', 'Device token invalid or revoked'],
    c4403: ['Mã thiết bị không dành cho trung tâm này', 'This device token belongs to another center'],
    c4404: ['Không tìm thấy trung tâm', 'Unknown center'],
    unknownCenter: ['Không tìm thấy trung tâm “{c}”', 'Unknown center “{c}”'],
    loadFailed: ['Không tải được cấu hình màn hình', 'Cannot load the display settings'],
    retrying: ['Đang thử lại…', 'Retrying…'],
  });
  const center = Q.pathPart(1);
  const only = (name) => (Q.params.get(name) || '').split(',').map((s) => s.trim()).filter(Boolean);
  const counterFilter = only('counters');
  const serviceFilter = only('services');
  const speakLangs = (Q.params.get('speak') ? only('speak') : [Q.lang]).filter((l) => l === 'vi' || l === 'en');
  const REPLAY_SPEAK_MS = 120000; // a call missed while disconnected is still spoken if this recent

  let config = null;
  let token = '';
  const board = new Q.Board();
  const sound = new Q.Sound();
  const cards = new Map();
  window.qmsShown = [];
  window.qmsAudio = [];
  window.qmsLastShown = null;

  function showMessage(title, text, askToken) {
    $('message-title').textContent = title;
    $('message-text').textContent = text || '';
    $('token-form').hidden = !askToken;
    $('message').hidden = false;
    document.body.classList.add('has-message');
  }

  function serviceName(id) {
    const s = config && config.services.find((x) => x.id === id);
    return s ? (Q.lang === 'en' ? s.name_en : s.name) : id;
  }
  function priorityName(id) {
    const p = config && config.priorities.find((x) => x.id === id);
    return p ? (Q.lang === 'en' ? p.name_en : p.name) : id;
  }
  function counterShown(c) {
    if (counterFilter.length) return counterFilter.includes(c.id);
    if (serviceFilter.length) return c.services.some((s) => serviceFilter.includes(s));
    return true;
  }
  function callShown(call) {
    if (counterFilter.length && !counterFilter.includes(call.counter)) return false;
    if (serviceFilter.length && call.service && !serviceFilter.includes(call.service)) return false;
    return true;
  }

  /* "Mời công dân có số thứ tự {number} đến quầy số {counter}" with the fields made big. */
  function sentence(call) {
    const templates = (config && config.templates[Q.lang]) || { call: '{number} → {counter}', recall: '{number} → {counter}' };
    const template = call.recall ? templates.recall : templates.call;
    const parts = template.split(/(\{number\}|\{counter\})/);
    return parts.map((part) => {
      if (part === '{number}') return Q.el('b', { class: 'num' + (call.priority ? ' prio' : '') }, call.number);
      if (part === '{counter}') return Q.el('b', { class: 'ctr' }, call.counter);
      return part;
    });
  }

  function renderCallout(call, flash) {
    const box = $('callout-text');
    const idle = board.dayClosed ? Q.message('day_closed_display') : tr('idle');
    box.replaceChildren(...(call ? sentence(call) : [Q.el('span', { class: 'idle' }, idle)]));
    $('callout').dataset.number = call ? call.number : '';
    if (call && call.priority) box.append(Q.el('span', { class: 'badge prio' }, '★ ' + tr('priority')));
    if (flash) restartAnimation($('callout'), 'flash');
  }

  function restartAnimation(node, name) {
    node.classList.remove(name);
    void node.offsetWidth; // restart the CSS animation
    node.classList.add(name);
  }

  function renderCounters() {
    const host = $('counters');
    const shown = [...board.counters.values()].filter(counterShown);
    host.dataset.count = String(shown.length);
    for (const c of shown) {
      let card = cards.get(c.id);
      if (!card) {
        card = Q.el('div', { class: 'counter', 'data-counter': c.id },
          Q.el('div', { class: 'counter-name' }), Q.el('div', { class: 'counter-number' }),
          Q.el('div', { class: 'counter-meta' }));
        cards.set(c.id, card);
      }
      host.append(card); // keeps the configured order
      const [name, number, meta] = card.children;
      const configured = config && config.center.counters.find((x) => x.id === c.id);
      name.textContent = configured && Q.lang === 'vi' ? configured.name : tr('counter') + ' ' + c.id;
      const current = c.current && c.current.number ? c.current : null;
      number.textContent = current ? current.number : '—';
      const keep = ['flash', 'speaking'].filter((k) => card.classList.contains(k));
      card.className = ['counter', 'state-' + c.state, current ? 'busy' : '',
                        current && current.priority ? 'prio' : '', ...keep].filter(Boolean).join(' ');
      const bits = [];
      if (current) bits.push(serviceName(current.service));
      if (current && current.priority) bits.push('★ ' + priorityName(current.priority));
      if (!current) bits.push(c.state === 'open' ? tr('open') : c.state === 'paused' ? tr('paused') : tr('closed'));
      if (c.queued) bits.push(tr('queued', { n: c.queued }));
      meta.textContent = bits.join(' · ');
      card.dataset.state = c.state;
      card.dataset.number = current ? current.number : '';
      card.dataset.queued = String(c.queued || 0);
    }
    for (const [id, card] of cards) if (!shown.some((c) => c.id === id)) card.remove();
  }

  function renderRecent() {
    const items = board.recent.filter(callShown).slice(0, 8).map((r) =>
      Q.el('li', { class: r.priority ? 'prio' : '' },
        Q.el('span', { class: 'r-num' }, r.number),
        Q.el('span', { class: 'r-ctr' }, (r.type === 'recalled' ? '↻ ' : '') + tr('to', { c: r.counter })),
        r.priority ? Q.el('span', { class: 'badge prio' }, '★') : null,
        Q.el('span', { class: 'r-time' }, r.at ? Q.formatTime(r.at) : '')));
    const list = $('recent');
    list.replaceChildren(...items);
    const box = list.parentElement; // show only whole lines: drop what does not fit
    while (list.lastChild && box.scrollHeight > box.clientHeight + 1) list.lastChild.remove();
  }

  function renderWaits() {
    // Services with people waiting first; the footer keeps two lines (css), so an idle
    // service is the first to give way.
    const served = new Set([...board.counters.values()].filter(counterShown).flatMap((c) => c.services));
    const rows = [...board.services.values()]
      .filter((s) => (serviceFilter.length ? serviceFilter.includes(s.id) : !counterFilter.length || served.has(s.id)))
      .filter((s) => serviceFilter.length || s.waiting > 0 || s.active > 0)
      .sort((a, b) => (b.waiting > 0) - (a.waiting > 0))
      .map((s) => Q.el('div', { class: 'wait' + (s.waiting ? '' : ' empty'), 'data-service': s.id },
        Q.el('span', { class: 'w-name' }, serviceName(s.id)),
        Q.el('span', { class: 'w-count' }, tr('people', { n: s.waiting })),
        Q.el('span', { class: 'w-eta' }, s.waiting ? Q.formatWait(s.eta_s) : '')));
    const atCounters = board.waitingForCounters();
    if (atCounters && !serviceFilter.length) {
      rows.push(Q.el('div', { class: 'wait', 'data-service': '@counters' },
        Q.el('span', { class: 'w-name' }, tr('atCounters')),
        Q.el('span', { class: 'w-count' }, tr('people', { n: atCounters })),
        Q.el('span', { class: 'w-eta' }, '')));
    }
    $('waits').replaceChildren(...rows);
  }

  /* The banner says what stands now: the newest call still held by an open counter. */
  let bannerId = null;
  function renderBanner(flashCall) {
    const call = board.banner();
    const shownCall = call && callShown(call) ? call : null;
    // The idle sentence changes with the day's close too.
    const id = shownCall ? shownCall.id + ':' + shownCall.at : board.dayClosed ? 'day-closed' : null;
    if (flashCall || id !== bannerId) {
      renderCallout(shownCall && Object.assign({ recall: shownCall.type === 'recalled' }, shownCall), !!flashCall);
    }
    bannerId = id;
  }

  /* Per-counter waiting counts come with snapshots; between them the board keeps them from
     events, and when they stop adding up to the server's totals it reads them again. */
  let resync = null;
  function checkQueued() {
    if (board.queuedAtCounters() === board.waitingForCounters() || resync) return;
    resync = setTimeout(async () => {
      try {
        const snap = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/live', { token });
        board.applyQueued(snap);
        renderCounters();
        renderWaits();
      } catch (e) { /* the next event or snapshot tries again */ }
      resync = null;
    }, 300);
  }

  // The history goes last: it keeps only the lines that fit beside the others.
  function renderAll() {
    document.body.classList.toggle('day-closed', !!board.dayClosed);
    document.body.dataset.dayClosed = board.dayClosed ? board.closedDay || '1' : '';
    renderCounters(); renderWaits(); renderRecent();
  }
  addEventListener('resize', () => renderRecent());

  function shown(call) {
    const record = { number: call.number, counter: call.counter, recall: call.recall,
                     at: performance.now(), epoch: performance.timeOrigin + performance.now() };
    window.qmsLastShown = record;
    window.qmsShown.push(record);
    if (window.qmsShown.length > 500) window.qmsShown.shift();
  }

  async function fetchAudio(call, lang) {
    const query = new URLSearchParams({ number: call.number, counter: call.counter,
                                        recall: call.recall ? '1' : '0', lang });
    const started = performance.now();
    const info = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/announcement?' + query, { token });
    const jsonAt = performance.now();
    const response = await fetch(info.audio_url, { headers: { Authorization: 'Bearer ' + token } });
    const firstByteAt = performance.now(); // fetch resolves when the response head arrives
    if (!response.ok) throw new Error('audio HTTP ' + response.status);
    const bytes = await response.arrayBuffer();
    window.qmsAudio.push({ number: call.number, recall: call.recall, lang, url: info.audio_url,
      text: info.text, started, jsonAt, firstByteAt, epochJson: performance.timeOrigin + jsonAt,
      epochFirstByte: performance.timeOrigin + firstByteAt,
      bytes: bytes.byteLength });
    if (window.qmsAudio.length > 500) window.qmsAudio.shift();
    return bytes;
  }

  const speech = new Q.SpeechQueue(sound, (item) => fetchAudio(item, item.lang), (item, on) => {
    const card = cards.get(item.counter);
    if (card) card.classList.toggle('speaking', on);
  });

  function announce(call) {
    bannerId = call.id + ':' + call.at;
    renderCallout(call, true);
    const card = cards.get(call.counter);
    if (card) restartAnimation(card, 'flash');
    shown(call);
    const age = Q.clock.now() - (call.at || Q.clock.now());
    if (age > REPLAY_SPEAK_MS) return; // an old call replayed after a long gap: shown, not said
    for (const lang of speakLangs) speech.push(Object.assign({ lang }, call));
  }

  function onFrame(frame) {
    if (frame.type === 'snapshot') {
      const snap = frame.snapshot || {};
      Q.clock.learn(snap.now);
      board.applySnapshot(snap);
      renderAll();
      bannerId = undefined;
      renderBanner(null);
      checkQueued();
    } else if (frame.type === 'event') {
      const call = board.applyEvent(frame.event, frame.id);
      renderAll();
      if (call && callShown(call)) announce(call);
      else renderBanner(null);
      checkQueued();
    } else if (frame.type === 'heartbeat') {
      Q.clock.learn(frame.at);
    }
  }

  function onState(state) {
    const reconnecting = state === 'reconnecting';
    $('status').hidden = !reconnecting;
    document.body.classList.toggle('offline', reconnecting);
  }

  function onFatal(code, reason) {
    const title = tr('c' + code) || reason;
    if (code === 4401 || code === 4403) Q.forgetDeviceToken('display', center);
    showMessage(title, reason, code === 4401 || code === 4403);
  }

  function tick() {
    const now = Q.clock.now();
    $('time').textContent = Q.formatTime(now, true);
    $('date').textContent = Q.formatDate(now);
  }

  function askForSound() {
    if (!sound.available || !sound.locked) return;
    const overlay = $('sound-overlay');
    overlay.hidden = false;
    const unlock = async () => {
      if (await sound.unlock()) overlay.hidden = true;
    };
    overlay.addEventListener('click', unlock);
    addEventListener('keydown', unlock, { once: true });
  }

  async function loadConfig() {
    for (let attempt = 0; ; attempt++) {
      try {
        return await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/page-config');
      } catch (error) {
        if (error.status === 404) {
          showMessage(tr('unknownCenter', { c: center }), error.reason, false);
          return null;
        }
        showMessage(tr('loadFailed'), error.reason + ' ' + tr('retrying'), false);
        await new Promise((r) => setTimeout(r, Math.min(15000, 1000 * 2 ** attempt)));
      }
    }
  }

  async function main() {
    document.title = tr('recent') + ' — ' + center;
    $('recent-title').textContent = tr('recent');
    $('waits-title').textContent = tr('waits');
    $('province').textContent = tr('province');
    $('token-label').textContent = tr('tokenLabel');
    $('token-save').textContent = tr('save');
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      Q.storeDeviceToken('display', center, $('token-input').value.trim());
      location.reload();
    });
    tick();
    setInterval(tick, 1000);
    token = Q.deviceToken('display', center); // stored, and out of the address bar, at once
    config = await loadConfig();
    if (!config) return;
    $('message').hidden = true;
    Q.clock.learn(config.now);
    $('center-name').textContent = config.center.name;
    document.title = config.center.name + ' — ' + tr('recent');
    if (!token) {
      showMessage(tr('noToken'), tr('noTokenText'), true);
      return;
    }
    askForSound();
    await Q.messagesReady; // the day's close is said in the catalogue's words
    new Q.LiveChannel({
      url: Q.liveBase(config) + '/display/' + encodeURIComponent(center), token, resume: true,
      onFrame, onState, onFatal,
    }).start();
  }

  main();
})();
