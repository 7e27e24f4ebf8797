// The project page's sections: each tab is a link (?tab=name) the server answers on its
// own; this switches panels without a reload and keeps the address in step, so back,
// reload and a shared link show the same section.
(() => {
  const nav = document.querySelector("[data-tabs]");
  if (!nav) return;
  const links = [...nav.querySelectorAll("a[data-tab]")];
  const panels = [...document.querySelectorAll("[data-tab-panel]")];
  const names = new Set(links.map((a) => a.dataset.tab));

  function show(name) {
    const chosen = names.has(name) ? name : "overview";
    for (const panel of panels) panel.hidden = panel.dataset.tabPanel !== chosen;
    for (const link of links) {
      if (link.dataset.tab === chosen) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    return chosen;
  }

  function go(name, link) {
    const chosen = show(name);
    if (link && link.href !== window.location.href) {
      history.pushState({ tab: chosen }, "", link.href);
    }
  }

  nav.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-tab]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(link.dataset.tab, link);
  });
  // Links elsewhere on the page that open a section ("Add images", "Agreement").
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-tab-link]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    const target = links.find((a) => a.dataset.tab === link.dataset.tabLink);
    if (!target) return;
    event.preventDefault();
    go(target.dataset.tab, target);
    target.focus();
  });
  window.addEventListener("popstate", () => {
    show(new URLSearchParams(window.location.search).get("tab") || "overview");
  });
  nav.dataset.ready = "true";
})();
