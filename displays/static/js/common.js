/* Shared by every citizen and hall page: language, device tokens, the message catalogue, API
   calls with problem+json errors, the server's clock and formatting. The live channel is
   /static/site/live.js (QMS.LiveChannel, docs/live-protocol.md), shared with the staff pages.
   No framework, no build step: plain ES2020 for the Chromium on a TV or a kiosk. */
(function () {
  'use strict';
  const Q = (window.QMS = window.QMS || {});
  Q.params = new URLSearchParams(location.search);
  Q.lang = Q.params.get('lang') === 'en' ? 'en' : 'vi';
  document.documentElement.lang = Q.lang;

  /* strings: {key: [vi, en]}; tr('key', {n: 3}) fills {n}. */
  Q.translator = function (strings) {
    return function (key, vars) {
      const pair = strings[key] || [key, key];
      let text = pair[Q.lang === 'en' ? 1 : 0];
      for (const [name, value] of Object.entries(vars || {})) {
        text = text.split('{' + name + '}').join(String(value));
      }
      return text;
    };
  };

  Q.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  Q.pathPart = function (index) {
    return decodeURIComponent(location.pathname.split('/').filter(Boolean)[index] || '');
  };

  /* A device token (dev.…): ?token= once, then kept in localStorage for this page and
     center; taken out of the address bar so it does not show on screen or in a photo. */
  Q.deviceToken = function (kind, center) {
    const key = 'qms.' + kind + '.' + center + '.token';
    const given = Q.params.get('token');
    if (given) {
      try { localStorage.setItem(key, given); } catch (e) { /* private mode: keep in memory */ }
      Q.params.delete('token');
      const rest = Q.params.toString();
      history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
      return given;
    }
    try { return localStorage.getItem(key) || ''; } catch (e) { return ''; }
  };
  Q.storeDeviceToken = function (kind, center, token) {
    try { localStorage.setItem('qms.' + kind + '.' + center + '.token', token); } catch (e) { /* */ }
  };
  Q.forgetDeviceToken = function (kind, center) {
    try { localStorage.removeItem('qms.' + kind + '.' + center + '.token'); } catch (e) { /* */ }
  };

  /* The server's message catalogue (GET /api/v1/messages: {reason: [vi, en]}), loaded once
     per page; refusals are rendered from their reason and fields in the page's language. */
  Q.catalogue = {};
  Q.messagesReady = fetch('/api/v1/messages', { headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : { messages: {} }))
    .then((body) => { Q.catalogue = body.messages || {}; })
    .catch(() => { /* the problem's own detail is shown instead */ });
  /* Words of the system (a status, a state, an action) through "value.<word>" entries, as
     queue_server/messages.py shows them. */
  const WORD_FIELDS = ['status', 'state', 'action', 'allowed'];
  const word = (value) => {
    const pair = Q.catalogue['value.' + value];
    return pair ? pair[Q.lang === 'en' ? 1 : 0] : value;
  };
  Q.message = function (reason, fields) {
    const pair = Q.catalogue[reason];
    if (!pair) return '';
    let text = pair[Q.lang === 'en' ? 1 : 0];
    for (const [name, value] of Object.entries(fields || {})) {
      let shown = Array.isArray(value) ? value.join(', ') : String(value);
      if (WORD_FIELDS.includes(name)) shown = shown.split(',').map(word).join(', ');
      text = text.split('{' + name + '}').join(shown);
    }
    return text;
  };
  /* A refusal as one sentence in the page's language: the catalogue's, else the half of the
     problem's "Vietnamese — English" detail. */
  Q.describe = function (error) {
    const problem = (error && error.problem) || {};
    const detail = problem.detail || (error && error.message) || '';
    const cut = detail.indexOf(' — ');
    const half = cut >= 0 ? (Q.lang === 'en' ? detail.slice(cut + 3) : detail.slice(0, cut)) : detail;
    // A reason of a whole kind (no fields) says less than the detail's specific English.
    if (Q.lang === 'en' || !problem.reason || !Q.catalogue[problem.reason]) return half;
    return Q.message(problem.reason, problem.fields) || half;
  };

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || 'HTTP ' + status);
      this.status = status;
      this.problem = problem || {};
      this.type = (problem && problem.type) || '';
    }
    /* The problem's title in the page language ("Vi / En" on the wire), then the detail. */
    get title() {
      const title = this.problem.title || '';
      const parts = title.split(' / ');
      return parts.length === 2 ? parts[Q.lang === 'en' ? 1 : 0] : title;
    }
    /* The refusal's sentence in the page language (see Q.describe). */
    get reason() { return Q.describe(this); }
  }
  Q.ApiError = ApiError;

  Q.api = async function (path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let response;
    try {
      response = await fetch(path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    } catch (error) {
      throw new ApiError(0, { title: 'Không kết nối được máy chủ / Cannot reach the server',
                              detail: 'Kiểm tra mạng rồi thử lại. — Check the network and try again. (' + String(error) + ')' });
    }
    const type = response.headers.get('content-type') || '';
    const data = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  };

  /* Server time = Date.now() + offset, learnt from snapshots and heartbeats. */
  Q.clock = {
    offset: 0,
    learn(serverMs) { if (typeof serverMs === 'number' && serverMs > 0) this.offset = serverMs - Date.now(); },
    now() { return Date.now() + this.offset; },
  };
  Q.formatTime = function (ms, withSeconds) {
    return new Intl.DateTimeFormat(Q.lang === 'en' ? 'en-GB' : 'vi-VN', {
      timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit',
      second: withSeconds ? '2-digit' : undefined, hour12: false,
    }).format(new Date(ms));
  };
  Q.formatDate = function (ms) {
    return new Intl.DateTimeFormat(Q.lang === 'en' ? 'en-GB' : 'vi-VN', {
      timeZone: 'Asia/Ho_Chi_Minh', weekday: 'long', day: '2-digit', month: '2-digit', year: 'numeric',
    }).format(new Date(ms));
  };
  Q.formatWait = function (seconds) {
    if (seconds === null || seconds === undefined) return Q.lang === 'en' ? 'no counter open' : 'chưa có quầy mở';
    const minutes = Math.round(seconds / 60);
    if (minutes < 1) return Q.lang === 'en' ? 'under 1 min' : 'dưới 1 phút';
    if (minutes < 60) return (Q.lang === 'en' ? '~' + minutes + ' min' : '~' + minutes + ' phút');
    const h = Math.floor(minutes / 60), m = minutes % 60;
    return '~' + h + (Q.lang === 'en' ? ' h ' : ' giờ ') + (m ? m + (Q.lang === 'en' ? ' min' : ' phút') : '');
  };

})();
