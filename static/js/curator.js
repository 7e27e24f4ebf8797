// Shared by every page. Progressive enhancement only: every form works without this file.
window.Curator = {
  // The session's CSRF token, from the page's meta tag, for requests our scripts send.
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  // A toast that never takes focus, and an error line; both only ever set as text.
  toaster(toast, errorBox, ms) {
    let timer = 0;
    return {
      say(message) {
        errorBox.textContent = "";
        toast.textContent = message;
        toast.classList.add("shown");
        clearTimeout(timer);
        timer = setTimeout(() => toast.classList.remove("shown"), ms);
      },
      fail(message) {
        errorBox.textContent = message;
      },
    };
  },
};

// htmx requests carry the CSRF token as forms carry it in a field.
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRF-Token"] = window.Curator.csrfToken();
});
