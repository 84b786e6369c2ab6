/* Swagger UI on the app's own OpenAPI document, from the vendored copy (no CDN: /docs works
   on a network without internet). Kept out of docs.html: the pages allow no inline script. */
(function () {
  'use strict';
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
