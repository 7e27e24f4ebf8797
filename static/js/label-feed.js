// Where the labeling screen's images come from: queue/next, one item at a time, each
// image already decoding when it is handed over (so that it shows at once).
"use strict";

window.CuratorFeed = {
  create({ settings, api, withRetry }) {
    const pid = Number(settings.project_id);

    const prepare = (data) => {
      const img = new Image();
      img.alt = data.filename;
      img.decoding = "async";
      img.src = data.display_url || data.file_url;
      const item = { data, id: Number(data.image_id ?? data.id), img, decision: null };
      item.ready = img.decode().catch(() => undefined);
      return item;
    };

    const nextUrl = (exclude) => {
      const params = new URLSearchParams({ strategy: settings.strategy, mode: settings.mode });
      if (settings.category_id) params.set("category_id", settings.category_id);
      if (settings.ranking) params.set("ranking", settings.ranking);
      if (exclude.length) params.set("exclude", exclude.join(","));
      return `/api/v1/projects/${pid}/queue/next?${params}`;
    };

    // The next item, or null when this queue has nothing left; throws when unreachable.
    const next = async (exclude) => {
      const result = await withRetry(() => api("GET", nextUrl(exclude)));
      return result.status === 204 || !result.data ? null : prepare(result.data);
    };

    return { prepare, next };
  },
};
