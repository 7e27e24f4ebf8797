// The tree editor's server side: JSON calls to the categories API with the session's CSRF
// token, and a fresh copy of the page's forms and list once the edits pause.
window.CuratorTaxonomyIo = (() => {
  "use strict";

  const call = async (method, url, body) => {
    const init = { method, headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = window.Curator.csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      return { ok: false, detail: "The server could not be reached; check the connection and try again." };
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    const detail = data && typeof data.detail === "string" ? data.detail : `The server answered ${response.status}.`;
    return { ok: response.ok, status: response.status, data, detail };
  };

  // The forms and the read-only list below: fetched again, once the edits pause.
  let refreshTimer = 0;
  const refreshPage = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const response = await fetch(window.location.pathname, { headers: { Accept: "text/html" } }).catch(() => null);
      if (!response || !response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["category-list", "add-category-card"]) {
        const next = fresh.getElementById(id);
        const old = document.getElementById(id);
        // A section the user is typing in keeps what they typed; the next edit refreshes it.
        if (next && old && !old.contains(document.activeElement)) old.replaceWith(document.adoptNode(next));
      }
    }, 400);
  };

  return { call, refreshPage };
})();
