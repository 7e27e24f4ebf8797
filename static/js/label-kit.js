// What the labeling screen's scripts share: building nodes (text only ever as textContent)
// and JSON calls to the API, with retries that the Idempotency-Key makes safe.
window.CuratorLabelKit = (() => {
  "use strict";

  const RETRIES = 5;

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

  const describe = (error) =>
    error instanceof ApiError ? error.detail || error.message : "The server could not be reached; check the connection.";

  return { uuid, make, api, withRetry, describe };
})();
