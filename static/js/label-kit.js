// What the labeling screen's scripts share: JSON calls to the API, with retries that the
// Idempotency-Key makes safe. (uuid, make and retry itself are curator.js's.)
window.CuratorLabelKit = (() => {
  "use strict";

  const RETRIES = 5;

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
      this.detail = detail;
    }
  }

  // One JSON call; a network failure throws TypeError, a 4xx/5xx throws ApiError(detail).
  const api = async (method, url, body, headers) => {
    const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = window.Curator.csrfToken();
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
  const withRetry = (call) => window.Curator.retry(call, RETRIES);

  const describe = (error) =>
    error instanceof ApiError ? error.detail || error.message : "The server could not be reached; check the connection.";

  // Resolves once the frame the screen is drawing has been painted (a message posted from
  // requestAnimationFrame runs after it). A key's network calls wait for it: starting a
  // fetch costs a millisecond or two of script, spent after the next image is on screen
  // rather than before. A hidden page draws no frames, hence the timer.
  const afterPaint = () =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, 100);
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          clearTimeout(timer);
          resolve();
        };
        channel.port2.postMessage(0);
      });
    });

  return { api, withRetry, describe, afterPaint };
})();
