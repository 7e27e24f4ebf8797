// Starts Swagger UI on /docs. A file, not an inline script, so the page keeps to the
// Content-Security-Policy; the settings come from the page's JSON data block.
(() => {
  const config = JSON.parse(document.getElementById("docs-config").textContent);
  window.ui = window.SwaggerUIBundle({
    ...config,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
