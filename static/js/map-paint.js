// The embedding map's drawing and geometry, apart from its page logic (map.js): packed
// colours, a colour ramp, points written straight into one ImageData (no DOM node, no
// path per point), point-in-polygon, and a grid index for "which point is under the
// pointer". Pure functions over typed arrays; nothing here touches the page.
window.CuratorMapPaint = (() => {
  "use strict";

  // ImageData is RGBA in memory; a little-endian Uint32 holds it as ABGR.
  const pack = (hex, alpha = 255) => {
    const v = parseInt(String(hex).replace("#", ""), 16) || 0;
    return ((alpha << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
  };
  const css = (packed) => {
    const v = packed >>> 0;
    return `rgb(${v & 0xff}, ${(v >> 8) & 0xff}, ${(v >> 16) & 0xff})`;
  };

  // viridis at five stops: ordered, colour-blind safe, legible light and dark.
  const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"].map((h) => parseInt(h.slice(1), 16));
  const ramp = (t) => {
    const s = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(s));
    const f = s - i;
    const mix = (shift) => Math.round(((RAMP[i] >> shift) & 0xff) * (1 - f) + ((RAMP[i + 1] >> shift) & 0xff) * f);
    return ((255 << 24) | (mix(0) << 16) | (mix(8) << 8) | mix(16)) >>> 0;
  };

  const palette = (dark) => ({
    none: pack(dark ? "#6b7078" : "#b4b8be", 200),
    rejected: pack(dark ? "#3d4046" : "#5f6368"),
    ring: pack(dark ? "#ffffff" : "#111111"),
    agrees: pack(dark ? "#4f8fd6" : "#1f6fbf"),
    disagrees: pack("#e8590c"),
  });

  // Every point a small square; grey "no value" points first so coloured ones are never
  // hidden under them, the selection last with a ring.
  const draw = (canvas, points, colours, selected, { dpr, none, ring }) => {
    const { n, sx, sy } = points;
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    const image = ctx.createImageData(w, h);
    const px = new Uint32Array(image.data.buffer);
    const size = Math.max(2, Math.round((n > 20000 ? 2 : 4) * dpr));
    const square = (i, s, colour) => {
      const x0 = Math.round(sx[i] * dpr - s / 2), y0 = Math.round(sy[i] * dpr - s / 2);
      const x1 = Math.min(w, x0 + s), y1 = Math.min(h, y0 + s);
      for (let y = Math.max(0, y0); y < y1; y += 1) {
        const row = y * w;
        for (let x = Math.max(0, x0); x < x1; x += 1) px[row + x] = colour;
      }
    };
    for (let i = 0; i < n; i += 1) if (colours[i] === none) square(i, size, none);
    for (let i = 0; i < n; i += 1) if (colours[i] !== none && !selected[i]) square(i, size, colours[i]);
    const halo = size + 2 * Math.ceil(dpr);
    for (let i = 0; i < n; i += 1) {
      if (!selected[i]) continue;
      square(i, halo, ring);
      square(i, size, colours[i]);
    }
    ctx.putImageData(image, 0, 0);
  };

  // Even-odd ray casting.
  const inside = (poly, x, y) => {
    let hit = false;
    for (let k = 0, j = poly.length - 1; k < poly.length; j = k, k += 1) {
      const [xk, yk] = poly[k], [xj, yj] = poly[j];
      if ((yk > y) !== (yj > y) && x < ((xj - xk) * (y - yk)) / (yj - yk) + xk) hit = !hit;
    }
    return hit;
  };

  // Indices of the points inside the polygon; candidates first cut to its bounding box.
  const within = (points, poly) => {
    const { n, sx, sy } = points;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of poly) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const found = [];
    for (let i = 0; i < n; i += 1) {
      if (sx[i] < x0 || sx[i] > x1 || sy[i] < y0 || sy[i] > y1) continue;
      if (inside(poly, sx[i], sy[i])) found.push(i);
    }
    return found;
  };

  // The nearest point within `radius` CSS pixels, through a grid of 12-pixel cells.
  const CELL = 12;
  const index = (points) => {
    const { n, sx, sy } = points;
    const cells = new Map();
    for (let i = 0; i < n; i += 1) {
      const key = Math.floor(sx[i] / CELL) * 100000 + Math.floor(sy[i] / CELL);
      const list = cells.get(key);
      if (list) list.push(i);
      else cells.set(key, [i]);
    }
    return (x, y, radius) => {
      let best = -1, bestD = radius * radius;
      const cx = Math.floor(x / CELL), cy = Math.floor(y / CELL);
      for (let gx = cx - 1; gx <= cx + 1; gx += 1) {
        for (let gy = cy - 1; gy <= cy + 1; gy += 1) {
          for (const i of cells.get(gx * 100000 + gy) || []) {
            const d = (sx[i] - x) ** 2 + (sy[i] - y) ** 2;
            if (d <= bestD) { best = i; bestD = d; }
          }
        }
      }
      return best;
    };
  };

  return { pack, css, ramp, palette, draw, within, index };
})();
