/* The list of pages: a center picker fills the center into every link that needs one. */
(function () {
  'use strict';
  const select = document.getElementById('center');
  function apply(center) {
    for (const link of document.querySelectorAll('[data-href]')) {
      link.href = link.dataset.href.replace('{center}', encodeURIComponent(center));
    }
    for (const code of document.querySelectorAll('[data-text]')) {
      code.textContent = code.dataset.text.replace('{center}', center);
    }
  }
  fetch('/api/v1/centers', { headers: { Accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : []))
    .then((centers) => {
      select.textContent = '';
      for (const center of centers) {
        const option = document.createElement('option');
        option.value = center.id;
        option.textContent = center.name + ' (' + center.id + ')';
        select.append(option);
      }
      const first = new URLSearchParams(location.search).get('center') || (centers[0] || {}).id;
      if (first) { select.value = first; apply(first); }
    })
    .catch(() => { /* the links keep their generic form */ });
  select.addEventListener('change', () => apply(select.value));
})();
