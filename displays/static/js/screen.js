/* The counter's own screen: /screen/{center}/{counter}?token=dev.… (a "screen" device token
   of the center). Shows the counter's number and name, the ticket it calls or serves,
   "Tạm dừng" with the pause reason, or closed; live over the center's display channel, with
   the same board rules as the lobby display (board.js). */
(function () {
  'use strict';
  const Q = window.QMS;
  const $ = (id) => document.getElementById(id);
  const tr = Q.translator({
    counter: ['Quầy {c}', 'Counter {c}'],
    called: ['Mời số', 'Now calling'],
    serving: ['Đang phục vụ', 'Now serving'],
    ready: ['Sẵn sàng phục vụ', 'Ready'],
    readyText: ['Mời công dân chờ đến lượt', 'Please wait for your number'],
    paused: ['Tạm dừng', 'Paused'],
    closed: ['Quầy đã đóng', 'Counter closed'],
    closedText: ['Mời công dân sang quầy khác đang mở', 'Please go to another open counter'],
    priority: ['Ưu tiên', 'Priority'],
    queued: ['{n} người chờ riêng quầy này', '{n} waiting for this counter'],
    noToken: ['Chưa có mã thiết bị', 'No device token'],
    noTokenText: ['Nhập mã thiết bị màn hình quầy do giám sát trung tâm cấp (bắt đầu bằng dev.).',
                  'Enter the counter screen token from the center supervisor (it starts with dev.).'],
    tokenLabel: ['Mã thiết bị màn hình quầy (dev.…)', 'Counter screen token (dev.…)'],
    save: ['Lưu và kết nối', 'Save and connect'],
    c4401: ['Mã thiết bị không hợp lệ hoặc đã bị thu hồi', 'Device token invalid or revoked'],
    c4403: ['Mã thiết bị không dành cho trung tâm này', 'This device token belongs to another center'],
    c4404: ['Không tìm thấy trung tâm', 'Unknown center'],
    askToken: ['Hãy xin giám sát trung tâm cấp mã mới rồi nhập vào đây.', 'Ask the center supervisor for a new token and enter it here.'],
    unknownCenter: ['Không tìm thấy trung tâm “{c}”', 'Unknown center “{c}”'],
    unknownCounter: ['Trung tâm không có quầy “{c}”', 'This center has no counter “{c}”'],
    checkAddress: ['Hãy kiểm tra lại địa chỉ của màn hình (/screen/mã-trung-tâm/số-quầy).', 'Check the screen\'s address (/screen/center/counter).'],
    loadFailed: ['Không tải được cấu hình màn hình', 'Cannot load the screen settings'],
  });
  const center = Q.pathPart(1);
  const counterId = Q.pathPart(2);
  const board = new Q.Board();
  let config = null;
  let reasons = [];
  let token = '';

  function showMessage(title, text, askToken) {
    $('message-title').textContent = title;
    $('message-text').textContent = text || '';
    $('token-form').hidden = !askToken;
    $('message').hidden = false;
  }
  function reasonName(id) {
    const r = reasons.find((x) => x.id === id);
    return r ? (Q.lang === 'en' ? r.name_en : r.name) : id;
  }
  function serviceName(id) {
    const s = config && config.services.find((x) => x.id === id);
    return s ? (Q.lang === 'en' ? s.name_en : s.name) : '';
  }

  function render() {
    const c = board.counters.get(counterId) || { state: 'closed', current: null, reason: '', queued: 0 };
    const current = c.current && c.current.number ? c.current : null;
    document.body.dataset.state = c.state;
    let label = '';
    let text = '';
    document.body.dataset.dayClosed = board.dayClosed ? board.closedDay || '1' : '';
    if (board.dayClosed) { label = Q.message('day_closed_short'); text = Q.message('day_closed_display'); }
    else if (c.state === 'closed') { label = tr('closed'); text = tr('closedText'); }
    else if (c.state === 'paused') { label = tr('paused'); text = c.reason ? reasonName(c.reason) : ''; }
    else if (current) {
      label = current.status === 'serving' ? tr('serving') : tr('called');
    } else { label = tr('ready'); text = tr('readyText'); }
    $('label').textContent = label;
    const showTicket = c.state === 'open' && current;
    $('ticket').textContent = showTicket ? current.number : '';
    $('ticket').classList.toggle('prio', !!(showTicket && current.priority));
    $('ticket').hidden = !showTicket;
    $('service').textContent = showTicket ? serviceName(current.service) + (current.priority ? ' · ★ ' + tr('priority') : '') : '';
    $('reason').textContent = text + (c.queued && c.state === 'open' ? (text ? ' · ' : '') + tr('queued', { n: c.queued }) : '');
    document.body.dataset.number = showTicket ? current.number : '';
  }

  function onFrame(frame) {
    if (frame.type === 'snapshot') {
      Q.clock.learn((frame.snapshot || {}).now);
      board.applySnapshot(frame.snapshot || {});
    } else if (frame.type === 'event') {
      const ev = frame.event || {};
      board.applyEvent(ev, frame.id);
      // started/serving: the card keeps the number, the label says "serving"
      const c = board.counters.get(counterId);
      if (c && c.current && ev.ticket && ev.ticket.id === c.current.id) c.current.status = ev.ticket.status;
    } else if (frame.type === 'heartbeat') {
      Q.clock.learn(frame.at);
      return;
    }
    render();
  }

  function onState(state) {
    const reconnecting = state === 'reconnecting';
    $('status').hidden = !reconnecting;
    document.body.classList.toggle('offline', reconnecting);
  }

  function onFatal(code, reason) {
    if (code === 4401 || code === 4403) Q.forgetDeviceToken('screen', center);
    showMessage(tr('c' + code), (code === 4401 || code === 4403) ? tr('askToken') : reason, code === 4401 || code === 4403);
  }

  async function main() {
    $('token-label').textContent = tr('tokenLabel');
    $('token-save').textContent = tr('save');
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      Q.storeDeviceToken('screen', center, $('token-input').value.trim());
      location.reload();
    });
    token = Q.deviceToken('screen', center);
    $('counter-number').textContent = counterId;
    try {
      config = await Q.api('/api/v1/centers/' + encodeURIComponent(center) + '/page-config');
      reasons = (await Q.api('/api/v1/services')).pause_reasons || [];
    } catch (error) {
      if (error.status === 404) showMessage(tr('unknownCenter', { c: center }), tr('checkAddress'), false);
      else showMessage(tr('loadFailed'), Q.describe(error), false);
      return;
    }
    const configured = config.center.counters.find((c) => c.id === counterId);
    if (!configured) {
      showMessage(tr('unknownCounter', { c: counterId }), tr('checkAddress'), false);
      return;
    }
    $('counter-name').textContent = Q.lang === 'en' ? tr('counter', { c: counterId }) : configured.name;
    $('center-name').textContent = config.center.name;
    document.title = configured.name + ' — ' + config.center.name;
    await Q.messagesReady; // the day's close is said in the catalogue's words
    render();
    if (!token) { showMessage(tr('noToken'), tr('noTokenText'), true); return; }
    new Q.LiveChannel({
      url: Q.liveBase(config) + '/display/' + encodeURIComponent(center), token, resume: true,
      onFrame, onState, onFatal,
    }).start();
  }

  main();
})();
