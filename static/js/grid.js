// The grid: select many thumbnails (click, shift-click, A), then label or reject them all
// at once through the bulk API (one Idempotency-Key per action, retried on network
// failure), and reload the page's tiles in place. Server data is only
// ever set as textContent; the reloaded tiles are this site's own escaped HTML.
(() => {
  "use strict";

  const screen = window.Curator.screen("[data-grid-screen]", "grid-settings");
  if (!screen) return;
  const { root, settings, byId, byKey, $ } = screen;
  const pid = Number(settings.project_id);
  const toast = $("[data-toast]");
  const errorBox = $("[data-error]");
  const count = $("[data-selected-count]");
  const reasons = $("[data-reasons]");
  const reasonForm = $("[data-reason-form]");
  const reasonText = reasons.querySelector("input");

  const csrfToken = window.Curator.csrfToken;

  const { say, fail } = window.Curator.toaster(toast, errorBox, 4000);

  // ---- selection ----------------------------------------------------------------------
  const tiles = () => [...root.querySelectorAll("[data-image-id]")];
  let anchor = null; // the last tile clicked without shift: one end of a range
  const selected = () => tiles().filter((t) => t.getAttribute("aria-pressed") === "true");
  const setPressed = (tile, on) => {
    tile.setAttribute("aria-pressed", on ? "true" : "false");
    tile.closest("li").classList.toggle("selected", on);
  };
  const update = () => {
    count.textContent = String(selected().length);
  };
  const clear = () => {
    for (const t of tiles()) setPressed(t, false);
    anchor = null;
    update();
  };
  const selectAll = () => {
    for (const t of tiles()) setPressed(t, true);
    update();
  };

  root.addEventListener("click", (event) => {
    const tile = event.target instanceof Element ? event.target.closest("[data-image-id]") : null;
    if (!tile) return;
    const all = tiles();
    if (event.shiftKey && anchor && all.includes(anchor)) {
      const [from, to] = [all.indexOf(anchor), all.indexOf(tile)].sort((a, b) => a - b);
      for (const t of all.slice(from, to + 1)) setPressed(t, true);
    } else {
      setPressed(tile, tile.getAttribute("aria-pressed") !== "true");
      anchor = tile;
    }
    update();
  });

  // ---- actions ------------------------------------------------------------------------
  const RETRIES = 4;

  // One action, one Idempotency-Key: a network failure or a 5xx is retried with the same
  // key, so a request that did reach the server is never stored twice.
  const post = (url, body, key) =>
    window.Curator.retry(
      () =>
        fetch(url, {
          method: "POST",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/json",
            "X-CSRF-Token": csrfToken(),
            ...(key ? { "Idempotency-Key": key } : {}),
          },
          body: JSON.stringify(body),
        }),
      RETRIES,
    );

  // The last bulk action, by the key it was sent with: U takes it back as one step.
  let last = null;

  const bulk = async (body, done) => {
    const chosen = selected();
    if (chosen.length === 0) {
      fail("Select some images first: click one, Shift-click another, or press A.");
      return;
    }
    const ids = chosen.map((t) => Number(t.dataset.imageId));
    const key = window.Curator.uuid();
    const data = await call(`/api/v1/projects/${pid}/annotations/bulk`, { image_ids: ids, ...body }, key,
      "The server could not be reached; the selection may not be labeled. Check the connection and try again.");
    if (!data) return;
    const n = typeof data.created === "number" ? data.created : ids.length;
    last = { key, done, n };
    await reload();
    say(`${done} ${n} image${n === 1 ? "" : "s"} · U to undo`);
  };

  // One request; its JSON, or null once the failure has been shown.
  const call = async (url, body, key, unreachable) => {
    let response;
    try {
      response = await post(url, body, key);
    } catch {
      fail(unreachable);
      return null;
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      fail(data && typeof data.detail === "string" ? data.detail : `The server answered ${response.status}.`);
      return null;
    }
    return data || {};
  };

  const undo = async () => {
    if (!last) {
      fail("Nothing to undo: U takes back the last bulk label or reject made on this page.");
      return;
    }
    const action = last;
    last = null;
    const data = await call(`/api/v1/projects/${pid}/annotations/bulk/undo`, { idempotency_key: action.key }, null,
      "The server could not be reached; nothing was undone. Check the connection and press U again.");
    if (!data) {
      last = action;
      return;
    }
    await reload();
    say(`Undone: ${action.n} image${action.n === 1 ? "" : "s"} have their previous labels back`);
  };

  // The page's tiles and counts again, from the server, in place.
  const reload = async () => {
    try {
      const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-grid-body]");
      if (fresh) $("[data-grid-body]").replaceWith(document.adoptNode(fresh));
    } catch {
      window.location.reload();
      return;
    }
    anchor = null;
    update();
  };

  const label = (category) => bulk({ category_id: category.id }, `Labeled as ${category.path}:`);
  const reject = (reason) => {
    reasons.close();
    const body = reason ? { rejected: true, reason } : { rejected: true };
    bulk(body, reason ? `Rejected (${reason}):` : "Rejected:");
  };

  for (const button of root.querySelectorAll("[data-category]")) {
    button.addEventListener("click", () => label(byId.get(Number(button.dataset.category))));
  }
  const picker = $("[data-category-picker]");
  if (picker) {
    picker.addEventListener("change", () => {
      const category = byId.get(Number(picker.value));
      picker.value = "";
      if (category) label(category);
    });
  }
  $("[data-select-all]").addEventListener("click", selectAll);
  $("[data-undo]").addEventListener("click", undo);
  $("[data-clear]").addEventListener("click", clear);

  // The reason picker, as on the labeling screen.
  const openReasons = () => {
    if (selected().length === 0) {
      fail("Select some images first: click one, Shift-click another, or press A.");
      return;
    }
    reasonForm.hidden = true;
    reasonText.value = "";
    reasons.showModal();
    reasons.querySelector("[data-reject-plain]").focus();
  };
  $("[data-reject]").addEventListener("click", openReasons);
  for (const button of reasons.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => reasons.close());
  }
  window.CuratorReasons.bind(reasons, reasonForm, reasonText, reject);

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (reasons.open) return;
    if (window.Curator.isTyping(event.target)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    let handled = true;
    if (key === "a") selectAll();
    else if (key === "Escape") clear();
    else if (key === "r") openReasons();
    else if (key === "u") undo();
    else if (byKey.has(key)) label(byKey.get(key));
    else handled = false;
    if (handled) event.preventDefault();
  });

  update();
  // Tests (and a curious user) can tell the handlers are attached: tiles clicked before
  // this line would do nothing.
  root.dataset.ready = "true";
})();
