/* Sound for the lobby: a chime made with WebAudio (no file) and the spoken calls, played one
   after another. Browsers keep audio locked until a user gesture; a TV or kiosk should run
   Chromium with --autoplay-policy=no-user-gesture-required (docs/displays.md). */
(function () {
  'use strict';
  const Q = (window.QMS = window.QMS || {});
  const MAX_PENDING = 20;       // calls waiting to be spoken; older ones beyond are dropped
  const GAP_MS = 500;           // silence between two calls

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  class Sound {
    constructor() {
      this.ctx = null;
      try {
        this.ctx = new (window.AudioContext || window.webkitAudioContext)();
      } catch (error) {
        console.warn('qms: no WebAudio here; calls are shown but not heard', error);
      }
    }
    get available() { return this.ctx !== null; }
    get locked() { return !this.ctx || this.ctx.state !== 'running'; }
    async unlock() {
      if (!this.ctx) return false;
      try { await this.ctx.resume(); } catch (error) { /* still locked */ }
      return !this.locked;
    }
    /* Two-tone "ding-dong" (E5 then C5), about 1.2 s; resolves when it has finished. */
    chime() {
      if (this.locked) return Promise.resolve();
      const ctx = this.ctx;
      const start = ctx.currentTime + 0.02;
      [[659.25, 0], [523.25, 0.45]].forEach(([freq, offset]) => {
        const osc = ctx.createOscillator();
        const overtone = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'sine';
        overtone.type = 'sine';
        osc.frequency.value = freq;
        overtone.frequency.value = freq * 2;
        const t = start + offset;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.35, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.75);
        osc.connect(gain);
        overtone.connect(gain);
        gain.connect(ctx.destination);
        osc.start(t); overtone.start(t);
        osc.stop(t + 0.8); overtone.stop(t + 0.8);
      });
      return sleep(1250);
    }
    /* Decode and play WAV bytes; resolves when done (or a little after its length). */
    async play(bytes) {
      if (this.locked) return;
      const buffer = await this.ctx.decodeAudioData(bytes.slice(0));
      await new Promise((resolve) => {
        const source = this.ctx.createBufferSource();
        source.buffer = buffer;
        source.connect(this.ctx.destination);
        const guard = setTimeout(resolve, buffer.duration * 1000 + 1500);
        source.onended = () => { clearTimeout(guard); resolve(); };
        source.start();
      });
    }
    /* A short beep pattern for the citizen's phone (its own tab was touched, so it may play). */
    alert() {
      if (this.locked) return;
      const ctx = this.ctx;
      for (let i = 0; i < 3; i++) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 880;
        const t = ctx.currentTime + i * 0.35;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.4, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
        osc.connect(gain); gain.connect(ctx.destination);
        osc.start(t); osc.stop(t + 0.3);
      }
    }
  }

  /* Calls in arrival order. Each call's audio is fetched as soon as it arrives (so it is
     ready when its turn comes); playing is strictly one at a time: chime, then the words. */
  class SpeechQueue {
    constructor(sound, fetchAudio, onSpeak) {
      this.sound = sound;
      this.fetchAudio = fetchAudio;
      this.onSpeak = onSpeak || (() => {});
      this.pending = [];
      this.running = false;
      this.spoken = 0;
    }
    push(call) {
      const item = { call, audio: this.fetchAudio(call) };
      item.audio.catch(() => {}); // reported when its turn comes
      this.pending.push(item);
      while (this.pending.length > MAX_PENDING) {
        const dropped = this.pending.shift();
        console.warn('qms: too many calls waiting to be spoken; skipped', dropped.call.number);
      }
      if (!this.running) this.run();
    }
    async run() {
      this.running = true;
      while (this.pending.length) {
        const item = this.pending.shift();
        this.onSpeak(item.call, true);
        const record = { number: item.call.number, recall: !!item.call.recall, lang: item.call.lang,
                         start: performance.now(), end: null, played: false };
        window.qmsSpeech = window.qmsSpeech || [];
        window.qmsSpeech.push(record);
        if (window.qmsSpeech.length > 500) window.qmsSpeech.shift();
        try {
          await this.sound.chime();
          const bytes = await item.audio;
          if (bytes && !this.sound.locked) { await this.sound.play(bytes); record.played = true; }
          this.spoken += 1;
        } catch (error) {
          console.warn('qms: could not speak', item.call.number, error);
        }
        record.end = performance.now();
        this.onSpeak(item.call, false);
        await sleep(GAP_MS);
      }
      this.running = false;
    }
  }

  Q.Sound = Sound;
  Q.SpeechQueue = SpeechQueue;
})();
