// Progressive enhancement only: every form works without this file.
// htmx requests carry the CSRF token from the page's meta tag, as forms carry it in a field.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
