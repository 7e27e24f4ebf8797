// The embedding map page: every image a dot on one canvas (drawn by map-paint.js),
// coloured by label, prediction, disagreement, outlier score or uncertainty. Hover shows
// the thumbnail; a lasso (point in polygon) or a box selects, then the bulk annotation
// API labels or rejects the selection, or the grid opens it. Server data only ever goes
// into the page as textContent or attributes.
(() => {
  "use strict";

  const root = document.querySelector("[data-map-screen]");
  const settingsNode = document.getElementById("map-settings");
  const paint = window.CuratorMapPaint;
  if (!root || !settingsNode || !paint) return;
  const settings = JSON.parse(settingsNode.textContent);
  const pid = Number(settings.project_id);
  const categories = settings.categories || [];
  const $ = (selector) => root.querySelector(selector);
  const canvas = $("[data-map-canvas]");
  const overlay = $("[data-map-overlay]");
  const stage = $("[data-map-stage]");
  const hover = $("[data-map-hover]");
  const hoverImg = $("[data-hover-img]");
  const hoverText = $("[data-hover-text]");
  const statusLine = $("[data-map-status]");
  const summary = document.querySelector("[data-map-summary]");
  const legend = document.querySelector("[data-map-legend]");
  const countNode = $("[data-selected-count]");
  const colourSelect = $("[data-colour]");
  const gridLink = $("[data-open-grid]");
  const { say, fail } = window.Curator.toaster($("[data-toast]"), $("[data-error]"), 4000);

  const GRID_IDS = 500; // images a grid link carries
  const PAD = 12;
  const STATUS_NAMES = ["unlabeled", "labeled", "rejected"];

  // ---- colours ------------------------------------------------------------------------
  const { pack, ramp } = paint;
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const colour = paint.palette(dark);
  const NONE = colour.none;
  const REJECTED = colour.rejected;
  const AGREES = colour.agrees;
  const DISAGREES = colour.disagrees;
  const categoryColour = new Map(categories.map((c) => [c.id, pack(c.color || "#888888")]));
  const categoryPath = new Map(categories.map((c) => [c.id, c.path]));

  // ---- data ---------------------------------------------------------------------------
  let data = null; // the columns from the API
  let n = 0;
  let sx = new Float32Array(0); // screen position of each point, CSS pixels
  let sy = new Float32Array(0);
  let colours = new Uint32Array(0);
  let selected = new Uint8Array(0);
  let selectedCount = 0;
  let view = { scale: 1, ox: 0, oy: 0, width: 0, height: 0, dpr: 1 };
  let nearest = null; // (x, y, radius) -> the point under the pointer, or -1

  const layout = () => {
    // The space inside the stage's border: its border box is 2px larger and would clip
    // the map's right and bottom edge.
    const width = Math.max(200, stage.clientWidth);
    const height = Math.max(200, stage.clientHeight);
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    for (const c of [canvas, overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
      c.style.width = `${width}px`;
      c.style.height = `${height}px`;
    }
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i += 1) {
      const x = data.x[i], y = data.y[i];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    if (n === 0) { minX = 0; maxX = 1; minY = 0; maxY = 1; }
    const dx = Math.max(maxX - minX, 1e-9), dy = Math.max(maxY - minY, 1e-9);
    const scale = Math.min((width - 2 * PAD) / dx, (height - 2 * PAD) / dy);
    const ox = PAD + (width - 2 * PAD - dx * scale) / 2 - minX * scale;
    const oy = PAD + (height - 2 * PAD - dy * scale) / 2 + maxY * scale; // y grows upward
    view = { scale, ox, oy, width, height, dpr };
    // Scripts (and the browser tests) map data to screen with these.
    canvas.dataset.scale = String(scale);
    canvas.dataset.offsetX = String(ox);
    canvas.dataset.offsetY = String(oy);
    sx = new Float32Array(n);
    sy = new Float32Array(n);
    for (let i = 0; i < n; i += 1) {
      sx[i] = ox + data.x[i] * scale;
      sy[i] = oy - data.y[i] * scale;
    }
    nearest = paint.index({ n, sx, sy });
  };

  const MODES = {
    label: (i) => {
      const status = data.status[i];
      if (status === 2) return REJECTED;
      if (status === 1) return categoryColour.get(data.label[i]) ?? NONE;
      return NONE;
    },
    prediction: (i) => categoryColour.get(data.prediction[i]) ?? NONE,
    disagrees: (i) => {
      if (data.status[i] !== 1 || data.prediction[i] < 0) return NONE;
      return data.disagrees[i] ? DISAGREES : AGREES;
    },
    outlier: (i) => (data.outlier[i] < 0 ? NONE : ramp(data.outlier[i])),
    uncertainty: (i) => (data.uncertainty[i] < 0 ? NONE : ramp(data.uncertainty[i])),
  };

  const recolour = () => {
    const mode = MODES[colourSelect.value] || MODES.label;
    colours = new Uint32Array(n);
    for (let i = 0; i < n; i += 1) colours[i] = mode(i);
    describe();
  };

  const draw = () =>
    paint.draw(canvas, { n, sx, sy }, colours, selected, { dpr: view.dpr, none: NONE, ring: colour.ring });

  // ---- legend and text alternative --------------------------------------------------
  const describe = () => {
    const mode = colourSelect.value;
    legend.replaceChildren();
    const item = (colourInt, text) => {
      const li = window.Curator.make("li", null);
      const swatch = window.Curator.make("span", null, { class: "map-swatch", "aria-hidden": "true" });
      swatch.style.background = paint.css(colourInt);
      li.append(swatch, document.createTextNode(` ${text}`));
      legend.append(li);
    };
    const counts = new Map();
    for (let i = 0; i < n; i += 1) counts.set(colours[i], (counts.get(colours[i]) || 0) + 1);
    if (mode === "label" || mode === "prediction") {
      for (const c of categories) {
        const k = categoryColour.get(c.id);
        const count = countOf(mode === "label" ? data.label : data.prediction, c.id);
        if (count) item(k, `${c.path} (${count})`);
      }
      if (mode === "label") item(REJECTED, `rejected (${data.status.filter((s) => s === 2).length})`);
      item(NONE, mode === "label" ? "unlabeled" : "no prediction");
    } else if (mode === "disagrees") {
      item(DISAGREES, `model disagrees (${counts.get(DISAGREES) || 0})`);
      item(AGREES, `model agrees (${counts.get(AGREES) || 0})`);
      item(NONE, "unlabeled or not predicted");
    } else {
      item(ramp(0), "0 (low)");
      item(ramp(0.5), "0.5");
      item(ramp(1), "1 (high)");
      item(NONE, "no score");
    }
    const run = data.run_id ? `colours from run #${data.run_id}` : "no model yet";
    summary.textContent = `${n} images on the map, coloured by ${colourSelect.selectedOptions[0].textContent.trim()}; ${run}. The legend lists each colour with its count.`;
  };
  const countOf = (column, id) => {
    let count = 0;
    for (let i = 0; i < n; i += 1) if (column[i] === id) count += 1;
    return count;
  };

  // ---- hover --------------------------------------------------------------------------
  let hovered = -1;
  const showHover = (i, x, y) => {
    if (i < 0) { hover.hidden = true; hovered = -1; return; }
    if (i !== hovered) {
      hovered = i;
      const id = data.image_id[i];
      hoverImg.src = `/api/v1/images/${id}/thumbnail`;
      hoverImg.alt = `image ${id}`;
      const status = STATUS_NAMES[data.status[i]];
      const label = data.status[i] === 1 ? categoryPath.get(data.label[i]) || "?" : status;
      const guess = data.prediction[i] >= 0 ? ` · predicted ${categoryPath.get(data.prediction[i]) || "?"}` : "";
      hoverText.textContent = `#${id} · ${label}${guess}`;
    }
    hover.hidden = false;
    hover.style.left = `${Math.min(x + 14, view.width - 130)}px`;
    hover.style.top = `${Math.min(y + 14, view.height - 130)}px`;
  };

  // ---- selection: lasso or box ------------------------------------------------------
  const tool = () => (root.querySelector("[data-tool]:checked") || {}).value || "lasso";
  let path = null; // points of the lasso, or the box's two corners
  const octx = overlay.getContext("2d");
  const drawPath = () => {
    octx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    octx.clearRect(0, 0, view.width, view.height);
    if (!path || path.length < 2) return;
    octx.strokeStyle = dark ? "#ffffff" : "#111111";
    octx.fillStyle = dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.06)";
    octx.lineWidth = 1.5;
    octx.setLineDash([5, 4]);
    octx.beginPath();
    for (const [k, [x, y]] of polygon().entries()) (k ? octx.lineTo(x, y) : octx.moveTo(x, y));
    octx.closePath();
    octx.fill();
    octx.stroke();
  };
  const polygon = () => {
    if (tool() !== "box" || path.length < 2) return path;
    const [a, b] = [path[0], path[path.length - 1]];
    return [a, [b[0], a[1]], b, [a[0], b[1]]];
  };
  const selectPolygon = (poly, add) => {
    if (!add) selected.fill(0);
    for (const i of paint.within({ n, sx, sy }, poly)) selected[i] = 1;
    changed();
  };
  const changed = () => {
    selectedCount = 0;
    for (let i = 0; i < n; i += 1) selectedCount += selected[i];
    countNode.textContent = String(selectedCount);
    const ids = selectedIds().slice(0, GRID_IDS);
    gridLink.href = ids.length
      ? `/projects/${pid}/grid?status=all&ids=${ids.join(",")}`
      : `/projects/${pid}/grid`;
    draw();
  };
  const selectedIds = () => {
    const ids = [];
    for (let i = 0; i < n; i += 1) if (selected[i]) ids.push(data.image_id[i]);
    return ids;
  };
  const local = (event) => {
    const rect = overlay.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  };
  overlay.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !data) return;
    overlay.setPointerCapture(event.pointerId);
    path = [local(event)];
    hover.hidden = true;
  });
  overlay.addEventListener("pointermove", (event) => {
    if (!data) return;
    const [x, y] = local(event);
    if (path) {
      path.push([x, y]);
      drawPath();
      return;
    }
    const i = nearest(x, y, 8);
    showHover(i, x, y);
  });
  overlay.addEventListener("pointerleave", () => { if (!path) showHover(-1, 0, 0); });
  overlay.addEventListener("pointerup", (event) => {
    if (!path) return;
    path.push(local(event));
    const poly = polygon();
    const add = event.shiftKey;
    path = null;
    drawPath();
    if (poly.length >= 3) selectPolygon(poly, add);
    else {
      // A click without a drag: that one point, if any.
      const [x, y] = poly[0];
      const i = nearest(x, y, 8);
      if (!add) selected.fill(0);
      if (i >= 0) selected[i] = 1;
      changed();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && selectedCount) {
      selected.fill(0);
      changed();
    }
  });

  // ---- actions ------------------------------------------------------------------------
  const bulk = async (body, done, apply) => {
    const ids = selectedIds();
    if (!ids.length) {
      fail("Select some images first: drag around a clump on the map.");
      return;
    }
    const { stored, error } = await window.CuratorMapActions.annotate(pid, ids, body, (chunk) => {
      const batch = new Set(chunk);
      for (let i = 0; i < n; i += 1) if (batch.has(data.image_id[i])) apply(i);
    });
    recolour();
    draw();
    if (error) fail(error);
    if (stored) say(`${done} ${stored} image${stored === 1 ? "" : "s"}`);
  };
  const labelButton = $("[data-label]");
  if (labelButton) {
    labelButton.addEventListener("click", () => {
      const cid = Number($("[data-category]").value);
      bulk({ category_id: cid }, `Labeled ${categoryPath.get(cid) || ""}:`, (i) => {
        data.status[i] = 1;
        data.label[i] = cid;
      });
    });
  }
  $("[data-reject]").addEventListener("click", () =>
    bulk({ rejected: true }, "Rejected", (i) => {
      data.status[i] = 2;
      data.label[i] = -1;
    }),
  );
  $("[data-clear]").addEventListener("click", () => {
    selected.fill(0);
    changed();
  });
  colourSelect.addEventListener("change", () => {
    recolour();
    draw();
  });
  const refresh = root.querySelector("[data-refresh]");
  if (refresh) {
    refresh.addEventListener("click", async () => {
      const response = await fetch(`/api/v1/projects/${pid}/embedding-map/refresh`, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRF-Token": window.Curator.csrfToken() },
      });
      if (response.ok) say("Asked a worker to update the map; reload in a while.");
      else fail(`The server answered ${response.status}.`);
    });
  }
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (data) { layout(); draw(); } }, 150);
  });

  // ---- load ---------------------------------------------------------------------------
  // Each column arrives as base64 of little-endian numbers; a typed array views the bytes
  // as they are (every browser here is little-endian), no number is parsed.
  const ARRAYS = { "<i4": Int32Array, "<f4": Float32Array, "<i1": Int8Array };
  const unpack = (body) => {
    const out = { run_id: body.run_id, waiting: body.waiting, count: body.count };
    for (const [name, type] of Object.entries(body.types)) {
      const text = atob(body[name]);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
      out[name] = new ARRAYS[type](bytes.buffer);
    }
    return out;
  };
  const fetchPart = async (part) => {
    let response;
    try {
      response = await fetch(`/api/v1/projects/${pid}/embedding-map/columns?part=${part}`, { headers: { Accept: "application/json" } });
    } catch {
      throw new Error("the server did not answer. Reload to try again.");
    }
    if (!response.ok) throw new Error(`the server answered ${response.status}.`);
    return unpack(await response.json());
  };

  // The places and labels first (the first paint needs nothing else), then the newest
  // run's colours, which only change what colouring by prediction, disagreement, outlier
  // score or uncertainty shows.
  const load = async () => {
    try {
      data = await fetchPart("points");
    } catch (error) {
      statusLine.textContent = `The map could not be loaded: ${error.message}`;
      return;
    }
    performance.mark("map-data");
    n = data.count;
    data.prediction = new Int32Array(n).fill(-1);
    data.disagrees = new Int8Array(n);
    data.uncertainty = new Float32Array(n).fill(-1);
    data.outlier = new Float32Array(n).fill(-1);
    selected = new Uint8Array(n);
    layout();
    recolour();
    draw();
    // The mark after the frame that shows the points: the next frame's callback.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      performance.mark("map-first-paint");
      canvas.dataset.ready = "true";
    }));
    canvas.dataset.points = String(n);
    const run = data.run_id ? ` Colours from run #${data.run_id}.` : " No model yet: colour by label.";
    const waitingNote = data.waiting ? ` ${data.waiting} more image${data.waiting === 1 ? " is" : "s are"} waiting for the worker.` : "";
    statusLine.textContent = n
      ? `${n} image${n === 1 ? "" : "s"} on the map.${run}${waitingNote}`
      : `No map yet: it is made once images are embedded (after an upload, or a training run).${waitingNote}`;
    const box = root.querySelector("[data-refresh-box]");
    if (box) box.hidden = !data.waiting && n > 0;
    if (!data.run_id || !n) return;
    let colours;
    try {
      colours = await fetchPart("run");
    } catch (error) {
      fail(`The model's colours could not be loaded: ${error.message}`);
      return;
    }
    const same = colours.count === n && colours.image_id.every((id, i) => id === data.image_id[i]);
    if (!same) {
      fail("The map changed while it loaded; reload the page to see the newest one.");
      return;
    }
    for (const name of ["prediction", "disagrees", "uncertainty", "outlier"]) data[name] = colours[name];
    if (colourSelect.value !== "label") {
      recolour();
      draw();
    }
    performance.mark("map-colours");
    canvas.dataset.colours = "true";
  };
  load();
})();
