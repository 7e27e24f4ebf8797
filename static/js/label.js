// The labeling screen: one decision per key, never waiting on the server.
// The queue is fetched ahead (at least `prefetch` images, each decoded before it is
// shown); annotations go out in the background, in order, each with its own
// Idempotency-Key and retried on network failure. Anything that comes from users or the
// server (filenames, names, reasons, error details) is only ever set as textContent.
(() => {
  "use strict";

  const root = document.querySelector("[data-labeler]");
  const settingsNode = document.getElementById("label-settings");
  if (!root || !settingsNode) return;
  const settings = JSON.parse(settingsNode.textContent);
  const pid = Number(settings.project_id);
  const PREFETCH = Math.max(3, Number(settings.prefetch) || 3);
  const EXCLUDE_MAX = 50; // ids sent back to queue/next (its limit); older ones are decided
  const RETRIES = 5;

  const $ = (selector) => root.querySelector(selector);
  const stage = $("[data-image]");
  const filenameNode = $("[data-filename]");
  const stateNode = $("[data-state]");
  const disputeNode = $("[data-dispute]");
  const loading = $("[data-loading]");
  const toast = $("[data-toast]");
  const errorBox = $("[data-error]");
  const crumb = $("[data-crumb]");
  const guide = $("[data-guide]");
  const guideButton = $("[data-toggle-guide]");
  const empty = $("[data-empty]");
  const reasons = $("[data-reasons]");
  const reasonForm = $("[data-reason-form]");
  const reasonText = reasons.querySelector("input");
  const help = $("[data-help]");
  const search = $("[data-search]");
  const searchInput = search.querySelector("input");
  const searchResults = search.querySelector("[role=listbox]");
  const searchHelp = search.querySelector("#search-help");
  const searchHelpText = searchHelp.textContent;
  const queueLabel = $("[data-queue-label]");

  // ---- categories ---------------------------------------------------------------------
  const categories = settings.categories || [];
  const byId = new Map(categories.map((c) => [c.id, c]));
  const byKey = new Map();
  for (const c of categories) if (c.shortcut) byKey.set(String(c.shortcut).toLowerCase(), c);
  const children = (id) => categories.filter((c) => (c.parent_id ?? null) === id);
  const buttons = new Map();
  for (const button of root.querySelectorAll("[data-category]")) {
    buttons.set(Number(button.dataset.category), button);
  }
  const nameOf = (id) => (byId.has(id) ? byId.get(id).path : `category #${id}`);

  // ---- helpers ------------------------------------------------------------------------
  const csrfToken = window.Curator.csrfToken;
  const uuid = () =>
    crypto.randomUUID
      ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
          (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
        );
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const make = (tag, text, attrs) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  };

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // One JSON call; a network failure throws TypeError, a 4xx/5xx throws ApiError(detail).
  const api = async (method, url, body, headers) => {
    const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 204) return { status: 204, data: null };
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const detail =
        data && typeof data.detail === "string" ? data.detail : `The server answered ${response.status}.`;
      throw new ApiError(response.status, detail);
    }
    return { status: response.status, data };
  };

  // Network failures and 5xx are retried (the Idempotency-Key makes that safe); 4xx is not.
  const withRetry = async (call) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const transient = !(error instanceof ApiError) || error.status >= 500;
        if (!transient || attempt >= RETRIES) throw error;
        await sleep(300 * 2 ** attempt);
      }
    }
  };

  const { say, fail } = window.Curator.toaster(toast, errorBox, 2500);
  const describe = (error) =>
    error instanceof ApiError ? error.detail || error.message : "The server could not be reached; check the connection.";

  // ---- the queue ----------------------------------------------------------------------
  const queue = []; // prefetched items, in order
  const seen = []; // items decided or skipped this session, oldest first
  const skipped = new Set();
  let current = null; // the live item (the queue's head once shown)
  let back = 0; // how many steps back in `seen` the screen is (0: the live item)
  let exhausted = false;
  let filling = false;
  let remaining = null;
  let done = 0;
  let started = 0;

  const prepare = (data) => {
    const img = new Image();
    img.alt = data.filename;
    img.decoding = "async";
    img.src = data.display_url || data.file_url;
    const item = { data, id: Number(data.image_id ?? data.id), img, decision: null };
    item.ready = img.decode().catch(() => undefined);
    return item;
  };

  // The ids queue/next must not hand out again: those held here first, then the latest
  // seen and skipped (a decision still on its way would otherwise come back).
  const held = () => {
    const ids = new Set(queue.map((i) => i.id));
    if (current) ids.add(current.id);
    const recent = [...seen.map((i) => i.id), ...skipped].reverse();
    for (const id of recent) {
      if (ids.size >= EXCLUDE_MAX) break;
      ids.add(id);
    }
    return [...ids];
  };

  const nextUrl = () => {
    const params = new URLSearchParams({ strategy: settings.strategy, mode: settings.mode });
    if (settings.category_id) params.set("category_id", settings.category_id);
    if (settings.ranking) params.set("ranking", settings.ranking);
    const exclude = held();
    if (exclude.length) params.set("exclude", exclude.join(","));
    return `/api/v1/projects/${pid}/queue/next?${params}`;
  };

  const fill = async () => {
    if (filling) return;
    filling = true;
    try {
      while (!exhausted && queue.length < PREFETCH) {
        let result;
        try {
          result = await withRetry(() => api("GET", nextUrl()));
        } catch (error) {
          fail(`Could not fetch the next image: ${describe(error)}`);
          break;
        }
        if (result.status === 204 || !result.data) {
          exhausted = true;
          remaining = 0;
          break;
        }
        const item = prepare(result.data);
        if (result.data.mode && result.data.strategy) {
          const ranked = result.data.ranking ? ` · ranked by ${result.data.ranking}` : "";
          queueLabel.textContent = `${result.data.mode} · ${result.data.strategy}${ranked}`;
        }
        if (typeof result.data.remaining === "number") remaining = result.data.remaining;
        queue.push(item);
        if (!current) advance();
      }
    } finally {
      filling = false;
    }
    if (!current) advance();
    counter();
  };

  // Show the queue's head as the live item (or the empty state).
  const advance = () => {
    back = 0;
    current = queue.shift() || null;
    render();
    if (queue.length < PREFETCH) fill();
  };

  const shown = () => (back > 0 ? seen[seen.length - back] : current);

  // ---- the screen ---------------------------------------------------------------------
  const counter = () => {
    $("[data-done]").textContent = String(done);
    $("[data-left]").textContent = remaining === null ? "…" : String(remaining);
    const hours = started ? (Date.now() - started) / 3600000 : 0;
    $("[data-rate]").textContent = hours > 0 ? String(Math.round(done / Math.max(hours, 1 / 60))) : "0";
  };

  const decisionText = (decision) => {
    if (!decision) return "";
    if (decision.skipped) return "skipped";
    if (decision.rejected) return decision.reason ? `rejected: ${decision.reason}` : "rejected";
    return `labeled ${nameOf(decision.category_id)}`;
  };

  const render = () => {
    const item = shown();
    const waiting = !item && !exhausted;
    loading.hidden = !waiting;
    empty.hidden = Boolean(item) || !exhausted;
    root.classList.toggle("is-empty", !item && exhausted);
    if (!item) {
      stage.replaceChildren();
      filenameNode.textContent = "";
      stateNode.textContent = "";
      dispute(null);
      suggest(null);
      return;
    }
    stage.classList.remove("zoomed");
    stage.replaceChildren(item.img);
    filenameNode.textContent = item.data.filename;
    dispute(item.data.disagreement || null);
    stateNode.textContent =
      back > 0 ? `· ${back} back · ${decisionText(item.decision) || "no decision"}` : "";
    suggest(item.data.suggestion || null);
    if (guideOpen) showGuide();
  };

  // In the disagreements queue: what each labeler said (the image carries the first).
  const saidBy = (a) =>
    `${a.username || "someone"}: ${a.rejected ? (a.reason ? `rejected (${a.reason})` : "rejected") : nameOf(a.category_id)}`;
  const dispute = (value) => {
    disputeNode.hidden = !value;
    disputeNode.textContent = value ? `Disputed · ${saidBy(value.first)} · ${saidBy(value.second)}` : "";
  };

  // The suggestion: its choice highlighted, with the confidence as a number and a bar.
  let suggestion = null;
  const suggest = (value) => {
    for (const button of buttons.values()) {
      button.classList.remove("suggested");
      const conf = button.querySelector("[data-confidence]");
      if (conf) conf.hidden = true;
    }
    suggestion = value && byId.has(Number(value.category_id)) ? value : null;
    if (!suggestion) return;
    const id = Number(suggestion.category_id);
    // Open the level that shows it, so its button is on screen.
    const category = byId.get(id);
    if (category.parent_id !== null && category.parent_id !== undefined && level !== category.parent_id) {
      open(category.parent_id);
    }
    const button = buttons.get(id);
    if (!button) return;
    button.classList.add("suggested");
    const conf = button.querySelector("[data-confidence]");
    const percent = Math.round(Math.max(0, Math.min(1, Number(suggestion.confidence) || 0)) * 100);
    const bar = make("span", null, { class: "bar", "aria-hidden": "true" });
    const fillBar = make("span");
    fillBar.style.width = `${percent}%`;
    bar.append(fillBar);
    conf.replaceChildren(make("span", `${percent}%`), bar, make("span", " suggested, Enter accepts", { class: "visually-hidden" }));
    conf.hidden = false;
  };

  // ---- the tree: which level's choices are on screen -------------------------------------
  let level = null; // null: the top level; else the id of the opened parent
  // `focus`: a choice button to move the focus to once the level is on screen (a
  // keyboard user who opened a parent from its focused button lands on its children).
  const open = (id, focus) => {
    level = id;
    const shownParent = id === null ? "" : String(id);
    for (const button of buttons.values()) {
      const li = button.closest("li");
      li.hidden = li.dataset.parent !== shownParent;
    }
    if (focus) focus.focus();
    const parts = [];
    if (id === null) {
      parts.push(make("span", "All categories"));
    } else {
      const top = make("button", "All categories", { type: "button", class: "link" });
      top.addEventListener("click", () => open(null));
      parts.push(top);
      const chain = [];
      for (let c = byId.get(id); c; c = c.parent_id != null ? byId.get(c.parent_id) : null) chain.unshift(c);
      chain.forEach((c, index) => {
        parts.push(make("span", " / ", { "aria-hidden": "true" }));
        if (index === chain.length - 1) {
          parts.push(make("strong", c.name, { "aria-current": "location" }));
          parts.push(make("span", " · Enter labels it, Esc goes up", { class: "muted" }));
        } else {
          const up = make("button", c.name, { type: "button", class: "link" });
          up.addEventListener("click", () => open(c.id));
          parts.push(up);
        }
      });
    }
    crumb.replaceChildren(...parts);
    if (guideOpen) showGuide();
  };

  const firstChild = (id) => {
    const child = children(id)[0];
    return child ? buttons.get(child.id) : null;
  };

  // A parent's key or button opens it (drills into its children); a leaf's labels. From
  // a focused button, the focus follows into the children.
  const choose = (category, fromButton) => {
    if (category.has_children && level !== category.id) {
      open(category.id, fromButton ? firstChild(category.id) : null);
      return;
    }
    decide({ category_id: category.id });
  };

  // Esc: one level up; a focused choice hands the focus to the parent just left.
  const up = () => {
    const left = level;
    const wasFocused = document.activeElement && document.activeElement.closest("[data-category]");
    open(byId.get(left).parent_id ?? null, wasFocused ? buttons.get(left) : null);
  };

  // ---- decisions ----------------------------------------------------------------------
  // Writes go out one after another, so that an undo always follows the label it undoes.
  let writes = Promise.resolve();
  const write = (task) => {
    writes = writes.then(task, task);
    return writes;
  };

  const annotate = (item, body) => {
    const key = uuid();
    write(async () => {
      try {
        await withRetry(() =>
          api("POST", `/api/v1/images/${item.id}/annotations`, body, { "Idempotency-Key": key }),
        );
      } catch (error) {
        item.decision = null;
        fail(`${item.data.filename}: ${describe(error)}`);
      }
    });
  };

  const decide = (body) => {
    const item = shown();
    if (!item) return;
    const wasLive = back === 0;
    item.decision = { ...body };
    annotate(item, body);
    say(`${decisionText(item.decision)} · U to undo`);
    if (!started) started = Date.now();
    if (wasLive) {
      done += 1;
      if (remaining) remaining -= 1;
      seen.push(item);
      open(null);
      advance();
    } else {
      back -= 1;
      render();
    }
    counter();
  };

  const skip = () => {
    const item = shown();
    if (!item) return;
    if (back > 0) {
      back -= 1;
      render();
      return;
    }
    item.decision = { skipped: true };
    skipped.add(item.id);
    seen.push(item);
    write(() =>
      api("POST", `/api/v1/projects/${pid}/queue/release`, { image_ids: [item.id] }).catch(() => undefined),
    );
    say("skipped · the image goes back to the pool");
    open(null);
    advance();
  };

  const undo = () => {
    // Shown at once: the latest decision of this session comes back on screen; the
    // server's answer (which image it undid) follows, and wins if it differs.
    let index = -1;
    for (let i = seen.length - 1; i >= 0; i -= 1) {
      const d = seen[i].decision;
      if (d && !d.skipped) {
        index = i;
        break;
      }
    }
    const local = index >= 0 ? seen.splice(index, 1)[0] : null;
    if (local) {
      local.decision = null;
      if (current) queue.unshift(current);
      current = local;
      back = 0;
      done = Math.max(0, done - 1);
      if (remaining !== null) remaining += 1;
      open(null);
      render();
      counter();
      say(`undoing: ${local.data.filename}`);
    }
    write(async () => {
      try {
        const { data } = await withRetry(() => api("POST", `/api/v1/projects/${pid}/undo`));
        const undone = data ? Number(data.image_id) : null;
        if (undone && (!local || local.id !== undone)) await showImage(undone);
        say(`undone · ${current ? current.data.filename : ""}`);
      } catch (error) {
        fail(describe(error));
      }
    });
  };

  // An image the server undid that this screen did not have at hand.
  const showImage = async (id) => {
    const known = [...seen, ...queue].find((i) => i.id === id);
    let item = known;
    if (!item) {
      const { data } = await api("GET", `/api/v1/images/${id}`);
      item = prepare({ ...data, image_id: data.id });
      await item.ready;
    } else {
      seen.splice(seen.indexOf(item), 1);
      const queued = queue.indexOf(item);
      if (queued >= 0) queue.splice(queued, 1);
    }
    if (current && current !== item) queue.unshift(current);
    current = item;
    back = 0;
    render();
  };

  const move = (delta) => {
    // delta -1: previous (further back in seen), +1: next (towards the live item).
    back = Math.max(0, Math.min(seen.length, back - delta));
    render();
  };

  // ---- overlays -----------------------------------------------------------------------
  const openDialog = (dialog) => {
    if (!dialog.open) dialog.showModal();
  };
  const anyOpen = () => [reasons, help, search].some((d) => d.open);

  for (const dialog of [reasons, help, search]) {
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => dialog.close());
    }
    // Clicking the backdrop closes it too.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
  }

  // The reason picker.
  const openReasons = () => {
    if (!shown()) return;
    reasonForm.hidden = true;
    reasonText.value = "";
    openDialog(reasons);
    reasons.querySelector("[data-reject-plain]").focus();
  };
  const reject = (reason) => {
    reasons.close();
    decide(reason ? { rejected: true, reason } : { rejected: true });
  };
  window.CuratorReasons.bind(reasons, reasonForm, reasonText, reject);

  // The fuzzy search over full paths.
  let matches = [];
  let active = 0;
  const score = (query, text) => {
    // Every query character in order; contiguous runs and word starts score higher.
    const q = query.toLowerCase();
    const t = text.toLowerCase();
    let at = -1;
    let total = 0;
    let run = 0;
    for (const ch of q) {
      if (ch === " ") continue;
      const found = t.indexOf(ch, at + 1);
      if (found < 0) return -1;
      run = found === at + 1 ? run + 1 : 0;
      const wordStart = found === 0 || " /-_".includes(t[found - 1]);
      total += 1 + run * 2 + (wordStart ? 3 : 0);
      at = found;
    }
    return total - t.length * 0.01;
  };
  const renderMatches = () => {
    const query = searchInput.value.trim();
    matches = categories
      .map((c) => ({ c, s: query ? score(query, c.path) : 0 }))
      .filter((m) => m.s >= 0)
      .sort((a, b) => b.s - a.s)
      .map((m) => m.c);
    active = Math.min(active, Math.max(0, matches.length - 1));
    const items = matches.slice(0, 50).map((c, index) => {
      const li = make("li", null, {
        role: "option",
        id: `match-${c.id}`,
        "aria-selected": index === active ? "true" : "false",
      });
      li.append(make("span", c.path));
      if (c.has_children) li.append(make("span", " ›", { "aria-hidden": "true" }));
      if (c.shortcut) li.append(" ", make("kbd", c.shortcut));
      li.addEventListener("click", () => pick(c));
      return li;
    });
    if (items.length === 0) items.push(make("li", "No category matches.", { class: "muted" }));
    searchResults.replaceChildren(...items);
    if (matches.length) searchInput.setAttribute("aria-activedescendant", `match-${matches[active].id}`);
    else searchInput.removeAttribute("aria-activedescendant");
  };
  const pick = (category) => {
    search.close();
    decide({ category_id: category.id });
  };
  const openSearch = () => {
    searchHelp.textContent = searchHelpText;
    searchInput.value = "";
    active = 0;
    renderMatches();
    openDialog(search);
    searchInput.focus();
  };
  searchInput.addEventListener("input", () => {
    active = 0;
    renderMatches();
  });
  // Tab drills into the match: its sub-categories come on screen, with their keys, and
  // Enter then labels the match itself (as after a parent's key).
  const drill = (category) => {
    if (!category.has_children) {
      searchHelp.textContent = `${category.path} has no sub-categories: Enter labels it.`;
      return;
    }
    search.close();
    open(category.id);
    say(`${category.path}: its sub-categories · Enter labels ${category.name} itself`);
  };
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      if (matches[active] && shown()) pick(matches[active]);
    } else if (event.key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      if (matches[active]) drill(matches[active]);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      active = Math.max(0, Math.min(matches.length - 1, active + step));
      renderMatches();
    }
  });

  // The guide: the selected or suggested category's description and examples.
  let guideOpen = false;
  const examples = new Map(); // category id -> Promise of {positive, negative} or null
  const guided = () => {
    if (level !== null) return byId.get(level);
    const focused = document.activeElement && document.activeElement.closest("[data-category]");
    if (focused) return byId.get(Number(focused.dataset.category));
    if (suggestion) return byId.get(Number(suggestion.category_id));
    return null;
  };
  const showGuide = async () => {
    const category = guided();
    const title = $("[data-guide-title]");
    const description = $("[data-guide-description]");
    const note = $("[data-examples-note]");
    const lists = root.querySelectorAll("[data-examples]");
    for (const list of lists) list.replaceChildren();
    if (!category) {
      title.textContent = "";
      description.replaceChildren(make("p", "Open a category (its key or Tab), or wait for a suggestion, to see its guideline.", { class: "muted" }));
      note.textContent = "";
      return;
    }
    title.textContent = `: ${category.path}`;
    const template = root.querySelector(`template[data-description="${category.id}"]`);
    const body = template ? template.content.cloneNode(true) : null;
    if (body && body.textContent.trim()) description.replaceChildren(body);
    else description.replaceChildren(make("p", "No guideline written yet.", { class: "muted" }));
    if (!examples.has(category.id)) {
      examples.set(
        category.id,
        api("GET", `/api/v1/categories/${category.id}/examples`)
          .then((r) => r.data)
          .catch(() => null),
      );
    }
    const found = await examples.get(category.id);
    if (guided() !== category) return; // the screen moved on meanwhile
    let count = 0;
    for (const list of lists) {
      const kind = list.dataset.examples;
      for (const image of ((found && found[kind]) || []).slice(0, kind === "positive" ? 6 : 3)) {
        const id = Number(image.id ?? image.image_id);
        const li = make("li");
        li.append(
          make("img", null, {
            src: image.thumbnail_url || `/api/v1/images/${id}/thumbnail`,
            alt: image.filename || `image ${id}`,
            loading: "lazy",
          }),
        );
        list.append(li);
        count += 1;
      }
    }
    note.textContent = count ? "" : "No example images pinned for this category yet.";
  };
  const toggleGuide = () => {
    guideOpen = !guideOpen;
    guide.hidden = !guideOpen;
    guideButton.setAttribute("aria-expanded", String(guideOpen));
    root.classList.toggle("with-guide", guideOpen);
    if (guideOpen) showGuide();
  };

  // ---- input --------------------------------------------------------------------------
  for (const [id, button] of buttons) {
    button.addEventListener("click", () => choose(byId.get(id), true));
    button.addEventListener("focus", () => guideOpen && showGuide());
  }
  $("[data-open-search]").addEventListener("click", openSearch);
  guideButton.addEventListener("click", toggleGuide);
  $("[data-open-help]").addEventListener("click", () => openDialog(help));

  // Zoom: hold the mouse button on the image, or + to toggle.
  stage.addEventListener("pointerdown", (event) => {
    const box = stage.getBoundingClientRect();
    stage.style.transformOrigin = `${event.clientX - box.left}px ${event.clientY - box.top}px`;
    stage.classList.add("zoomed");
  });
  for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
    stage.addEventListener(type, () => stage.classList.remove("zoomed"));
  }

  const typing = (target) =>
    target instanceof HTMLElement &&
    (target.isContentEditable || target.matches("input, select, textarea"));

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (anyOpen() || typing(event.target)) return; // the overlays handle their own keys
    const key = event.key;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    const onControl = event.target instanceof HTMLElement && event.target.matches("button, a, summary");
    let handled = true;
    if (lower === "?") {
      openDialog(help);
    } else if (lower === "/") {
      openSearch();
    } else if (lower === "g") {
      toggleGuide();
    } else if (lower === "r") {
      openReasons();
    } else if (lower === "s" || key === " ") {
      skip();
    } else if (lower === "u" || key === "Backspace") {
      undo();
    } else if (key === "ArrowLeft") {
      move(-1);
    } else if (key === "ArrowRight") {
      move(1);
    } else if (key === "+" || key === "=") {
      stage.style.transformOrigin = "50% 50%";
      stage.classList.toggle("zoomed");
    } else if (key === "Escape") {
      if (level !== null) up();
      else handled = false;
    } else if (key === "Enter") {
      if (onControl) handled = false; // Enter on a focused button or link does its own thing
      else if (level !== null) decide({ category_id: level });
      else if (suggestion) decide({ category_id: Number(suggestion.category_id) });
      else handled = false;
    } else if (byKey.has(lower)) {
      choose(byKey.get(lower));
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });

  open(null);
  counter();
  fill();
  setInterval(counter, 30000);
})();
