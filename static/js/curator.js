// Shared by every page. Progressive enhancement only: every form works without this file.
window.Curator = {
  // The session's CSRF token, from the page's meta tag, for requests our scripts send.
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  // A new Idempotency-Key (crypto.randomUUID needs a secure context; plain http has not).
  uuid() {
    return crypto.randomUUID
      ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
          (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
        );
  },
  // A keyboard screen's start: its root, the settings the server left in a JSON script
  // tag, its categories by id and by shortcut key; null when the page is not that screen.
  screen(rootSelector, settingsId) {
    const root = document.querySelector(rootSelector);
    const node = document.getElementById(settingsId);
    if (!root || !node) return null;
    const settings = JSON.parse(node.textContent);
    const categories = settings.categories || [];
    const byId = new Map(categories.map((c) => [c.id, c]));
    const byKey = new Map();
    for (const c of categories) if (c.shortcut) byKey.set(String(c.shortcut).toLowerCase(), c);
    return { root, settings, categories, byId, byKey, $: (selector) => root.querySelector(selector) };
  },
  // Whether a key press belongs to a text field, so that a screen's shortcuts leave it
  // alone. A field inside a closed dialog does not count: Chromium moves the focus out of a
  // dialog that closed only at its next style update, and a key pressed before that must
  // still reach the screen (a search closed by Tab, then G at once).
  isTyping(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || target.matches("input, select, textarea")) &&
      !target.closest("dialog:not([open])")
    );
  },
  sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  },
  // An element whose text is only ever set as textContent, never parsed as HTML.
  make(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  },
  // `call` again, after 300 ms and then doubling, while it fails for a reason that may
  // pass: a network error, or a 5xx (a fetch Response's status, or an error's `status`).
  // A 4xx is final. Safe for writes because each carries the same Idempotency-Key on
  // every attempt. Answers the last result (a 5xx Response) or throws the last error.
  async retry(call, retries) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await call();
        const failed = result instanceof Response && result.status >= 500;
        if (!failed || attempt >= retries) return result;
      } catch (error) {
        const final = Boolean(error) && typeof error.status === "number" && error.status < 500;
        if (final || attempt >= retries) throw error;
      }
      await window.Curator.sleep(300 * 2 ** attempt);
    }
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
