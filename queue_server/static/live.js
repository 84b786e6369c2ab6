/* The live channel client of every page: the lobby display, the counter screen, the ticket
   page, the counter console, the supervisor page, the rating tablet and the province view.
   It is the browser half of docs/live-protocol.md; displays/live.py is the Python half (the
   terminal display), and tests/test_live_protocol.py holds the two to the same numbers.

   A plain script (no build step, no framework) that defines window.QMS.LiveChannel and
   window.QMS.liveBase; the counter pages' ES modules read them from window.QMS. Frames are
   msgpack when the page loaded the vendored decoder (/static/site/vendor/msgpack/), else JSON.

   new QMS.LiveChannel({
     url,          // the channel's address without a query: ws://host:8001/ws/display/07054
                   // (or a function answering it, read at each connection)
     token,        // ?token=
     resume,       // true on the display and counter channels: reconnect with ?last_id=
     lastId,       // where to resume from at the first connection (a tablet's saved id)
     format,       // 'msgpack' | 'json' (default: msgpack if MessagePack is loaded)
     onFrame(frame),                 // every snapshot, event, ticket and heartbeat frame
     onState(state, info),           // 'connecting' | 'open' | 'reconnecting'
     onFatal(code, reason),          // a close the channel does not retry: it has stopped
   }).start()
*/
(function () {
  'use strict';
  const Q = (window.QMS = window.QMS || {});

  /* The protocol's numbers (docs/live-protocol.md, "Numbers"); displays/live.py has the same. */
  const PROTOCOL = {
    backoffFirstMs: 500,     // the first retry after a drop
    backoffMaxMs: 15000,     // doubling up to this
    jitter: 0.3,             // each delay × a uniform factor in [1 - jitter, 1 + jitter]
    silenceMs: 45000,        // no frame at all for this long: the link is dead (heartbeats: 15 s)
    fatal: [4401, 4403, 4404],
    badResume: 4400,         // with a last id: forget it and start fresh; without: fatal
  };
  Q.LIVE_PROTOCOL = PROTOCOL;

  const STREAM_ID = /^(\d+)-(\d+)$/;

  /* Stream ids compare as (ms, seq); true when a is strictly later than b. */
  function idAfter(a, b) {
    const x = STREAM_ID.exec(String(a || '')), y = STREAM_ID.exec(String(b || ''));
    if (!x) return false;
    if (!y) return true;
    const [am, as, bm, bs] = [Number(x[1]), Number(x[2]), Number(y[1]), Number(y[2])];
    return am > bm || (am === bm && as > bs);
  }

  function backoffMs(attempt, random) {
    const base = Math.min(PROTOCOL.backoffMaxMs, PROTOCOL.backoffFirstMs * Math.pow(2, attempt - 1));
    return Math.round(base * (1 - PROTOCOL.jitter + 2 * PROTOCOL.jitter * (random === undefined ? Math.random() : random)));
  }

  /* The channels' base address from /api/v1/config or a page-config answer: behind a proxy
     the server names it (QMS_PUBLIC_WS_URL), else the page's host on the WebSocket port. */
  Q.liveBase = function (config) {
    const path = config.ws_path || '/ws';
    if (config.ws_url) return config.ws_url.replace(/\/$/, '') + path;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return scheme + '//' + location.hostname + ':' + config.ws_port + path;
  };

  class LiveChannel {
    constructor(opts) {
      this.opts = opts;
      this.format = opts.format || (typeof MessagePack !== 'undefined' ? 'msgpack' : 'json');
      this.lastId = opts.lastId || null;
      this.attempt = 0;          // failed connections since the last frame
      this.stopped = false;
      this.badFrames = 0;
      this.ws = null;
      this.live = false;         // a frame came on the current connection
      this.resumedFrom = null;   // the last id the current connection asked for
      this.timer = null;
      this.watchdog = null;
      this.stats = { connections: 0, resumed: 0, snapshots: 0 };
      this.onOnline = () => { if (!this.ws && !this.stopped) this.connectNow(); };
      addEventListener('online', this.onOnline);
    }

    start() {
      (window.qmsLive = window.qmsLive || []).push(this); // the tests read each channel's stats
      this.connect();
      return this;
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      clearTimeout(this.watchdog);
      removeEventListener('online', this.onOnline);
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close(1000, 'page done');
    }

    connectNow() { clearTimeout(this.timer); this.connect(); }

    address() {
      const query = ['token=' + encodeURIComponent(this.opts.token || '')];
      if (this.opts.resume && this.lastId) query.push('last_id=' + encodeURIComponent(this.lastId));
      const url = typeof this.opts.url === 'function' ? this.opts.url() : this.opts.url;
      return url + '?' + query.join('&');
    }

    connect() {
      if (this.stopped) return;
      let ws;
      try {
        ws = new WebSocket(this.address(), [this.format === 'msgpack' ? 'qms.msgpack' : 'qms.json']);
      } catch (error) {
        console.warn('qms: cannot open the live channel', error);
        this.retry();
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.live = false;
      this.resumedFrom = this.opts.resume ? this.lastId : null;
      this.stats.connections += 1;
      this.state(this.attempt ? 'reconnecting' : 'connecting');
      // Open: the server took the socket (it may still refuse it with a close code). A resumed
      // channel with nothing missed gets no frame until the next event or heartbeat.
      ws.onopen = () => { this.arm(); this.state('open', { from: this.resumedFrom }); };
      ws.onmessage = (message) => this.receive(message.data);
      ws.onclose = (event) => this.closed(ws, event.code, event.reason || '');
    }

    state(name, info) {
      if (this.opts.onState) this.opts.onState(name, info || {});
    }

    /* The heartbeat watchdog: any frame re-arms it; silence closes the socket as a drop. */
    arm() {
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => {
        console.warn('qms: no frame for ' + PROTOCOL.silenceMs + ' ms; reconnecting');
        const ws = this.ws;
        if (!ws) return;
        ws.onclose = null;
        ws.close(4000, 'silent');
        this.closed(ws, 1006, 'silent');
      }, PROTOCOL.silenceMs);
    }

    decode(data) {
      try {
        const frame = typeof data === 'string' ? JSON.parse(data) : MessagePack.decode(new Uint8Array(data));
        if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') throw new Error('not a frame');
        return frame;
      } catch (error) {
        if (this.badFrames++ === 0) console.error('qms: skipped a malformed frame (logged once)', error);
        return null;
      }
    }

    receive(data) {
      this.arm();
      const frame = this.decode(data);
      if (!frame) return;
      const resumable = this.opts.resume && (frame.type === 'snapshot' || frame.type === 'event');
      // Resumed events the page already applied (a replay that overlaps) are dropped.
      if (resumable && frame.type === 'event' && this.lastId && !idAfter(frame.id, this.lastId)) return;
      if (!this.live) {
        this.live = true;
        this.attempt = 0;   // the backoff starts again only once a frame came through
        if (this.resumedFrom && frame.type === 'event') this.stats.resumed += 1;
      }
      if (frame.type === 'snapshot') this.stats.snapshots += 1;
      if (resumable && STREAM_ID.test(frame.id) && frame.id !== '0-0') this.lastId = frame.id;
      try {
        this.opts.onFrame(frame);
      } catch (error) {
        if (this.badFrames++ === 0) console.error('qms: skipped a frame it could not apply (logged once)', error, frame);
      }
    }

    closed(ws, code, reason) {
      if (ws !== this.ws) return;
      clearTimeout(this.watchdog);
      this.ws = null;
      this.live = false;
      if (this.stopped) return;
      if (code === PROTOCOL.badResume && this.opts.resume && this.lastId) {
        this.lastId = null;   // a resume point the server cannot read: start from a snapshot
      } else if (PROTOCOL.fatal.includes(code) || code === PROTOCOL.badResume) {
        this.stopped = true;
        if (this.opts.onFatal) this.opts.onFatal(code, reason);
        return;
      }
      this.retry();
    }

    retry() {
      this.attempt += 1;
      const delay = backoffMs(this.attempt);
      this.state('reconnecting', { delay, attempt: this.attempt });
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    }
  }

  LiveChannel.idAfter = idAfter;
  LiveChannel.backoffMs = backoffMs;
  Q.LiveChannel = LiveChannel;
})();
