// The embedding map's writes: a selection of any size labeled or rejected through the
// bulk annotation API, 500 images a request (its limit), each request with its own
// Idempotency-Key and retried on a network failure or 5xx with that same key, so a
// request that reached the server is never stored twice.
window.CuratorMapActions = (() => {
  "use strict";

  const BULK = 500;

  const send = (pid, ids, body) => {
    const key = window.Curator.uuid();
    return window.Curator.retry(
      () =>
        fetch(`/api/v1/projects/${pid}/annotations/bulk`, {
          method: "POST",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/json",
            "X-CSRF-Token": window.Curator.csrfToken(),
            "Idempotency-Key": key,
          },
          body: JSON.stringify({ image_ids: ids, ...body }),
        }),
      4,
    );
  };

  const detail = async (response) => {
    try {
      const answer = await response.json();
      if (typeof answer.detail === "string") return answer.detail;
    } catch {
      /* not JSON */
    }
    return `The server answered ${response.status}.`;
  };

  // Resolves to { stored, error }: `onChunk(ids)` runs for each stored chunk; the first
  // failure stops the rest and names itself in `error`.
  const annotate = async (pid, ids, body, onChunk) => {
    let stored = 0;
    for (let start = 0; start < ids.length; start += BULK) {
      const chunk = ids.slice(start, start + BULK);
      let response;
      try {
        response = await send(pid, chunk, body);
      } catch {
        return { stored, error: `The server could not be reached after ${stored} images; check the connection and try again.` };
      }
      if (!response.ok) return { stored, error: await detail(response) };
      stored += chunk.length;
      onChunk(chunk);
    }
    return { stored, error: null };
  };

  return { annotate };
})();
