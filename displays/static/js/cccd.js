/* The QR code of a chip-based citizen ID card (CCCD gắn chip), as a keyboard-wedge scanner
   types it at the kiosk: "12-digit id|old 9-digit id|full name|date of birth DDMMYYYY|sex|
   address|issue date DDMMYYYY" (fields may be empty), then Enter.

   A scanner types a whole line within a few milliseconds a key; a person does not. Keys that
   come faster than WEDGE_GAP_MS after a digit start are taken as a scan: they are kept from
   the page (no button is pressed by the Enter or the spaces of the address), and a complete
   line is parsed. Nothing of the card is stored: the callback gets the parsed fields once. */
(function () {
  'use strict';
  const Q = (window.QMS = window.QMS || {});
  const WEDGE_GAP_MS = 150; // a scanner: a few ms a key; the kiosk has no text field a person types in
  const ELDERLY_AGE = 60; // Luật Người cao tuổi 2009, Điều 2: công dân từ đủ 60 tuổi trở lên

  function parseDate(text) {
    const m = /^(\d{2})(\d{2})(\d{4})$/.exec(text || '');
    if (!m) return null;
    const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const date = new Date(Date.UTC(y, mo - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
    return { y, m: mo, d };
  }

  /* The card's fields, or null when the text is not a CCCD QR. */
  function parse(text) {
    const parts = String(text || '').trim().split('|');
    if (parts.length < 4 || !/^\d{12}$/.test(parts[0])) return null;
    const province = Number(parts[0].slice(0, 3));
    if (province < 1 || province > 96) return null;
    return { id: parts[0], oldId: /^\d{9}$/.test(parts[1] || '') ? parts[1] : '',
             name: (parts[2] || '').trim(), birth: parseDate(parts[3]), sex: (parts[4] || '').trim(),
             issued: parseDate(parts[6]) };
  }

  /* Whole years from the date of birth to today's date in Vietnam (Asia/Ho_Chi_Minh). */
  function age(birth, now) {
    if (!birth) return null;
    const [y, m, d] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' })
      .format(now || new Date()).split('-').map(Number);
    let years = y - birth.y;
    if (m < birth.m || (m === birth.m && d < birth.d)) years -= 1;
    return years >= 0 && years < 150 ? years : null;
  }

  function masked(id) { return '•'.repeat(Math.max(0, id.length - 4)) + id.slice(-4); }
  function formatDate(date) {
    if (!date) return '—';
    const two = (n) => String(n).padStart(2, '0');
    return two(date.d) + '/' + two(date.m) + '/' + date.y;
  }

  /* Calls onCard(fields) for every scanned card; a scan that is not one goes to onOther(text)
     (the kiosk: a booking's check-in QR), and onBad() when onOther does not take it. */
  function listen(onCard, onBad, onOther) {
    let buffer = '';
    let last = 0;
    let scanning = false;
    document.addEventListener('keydown', (event) => {
      const target = event.target;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
      const now = performance.now();
      const gap = now - last;
      last = now;
      if (scanning && gap > WEDGE_GAP_MS * 4) { scanning = false; buffer = ''; }
      if (event.key === 'Enter') {
        if (!scanning) { buffer = ''; return; }
        event.preventDefault();
        const text = buffer;
        scanning = false;
        buffer = '';
        const card = parse(text);
        if (card) onCard(card);
        else if (onOther && onOther(text)) { /* taken */ } else if (onBad) onBad();
        return;
      }
      if (event.key.length !== 1) return;
      if (!scanning) {
        // A scan starts with the id's digits, typed faster than a person types.
        if (!/\d/.test(event.key)) { buffer = ''; return; }
        buffer = gap < WEDGE_GAP_MS && /^\d+$/.test(buffer) ? buffer + event.key : event.key;
        if (buffer.length >= 3) scanning = true;
        return;
      }
      event.preventDefault(); // the scanner's spaces and letters press nothing on the page
      buffer += event.key;
      if (buffer.length > 512) { scanning = false; buffer = ''; }
    }, true);
  }

  Q.Cccd = { parse, age, masked, formatDate, listen, ELDERLY_AGE };
})();
