// "Where the model looked": a toggle ([data-saliency-toggle]) lays the saliency map over
// each picture of its scope ([data-saliency-scope]) that names one ([data-saliency-url]).
// The map comes from the saliency API, which answers 202 (with Retry-After) until a worker
// has made it; once it is there, the picture and the map are drawn into one image (a
// canvas, shown as a data: URL: the page's CSP allows no blob: images), so the overlay
// fits the picture whatever size it is shown at. Off puts the picture back.
// Works on content htmx swaps in later (the confusion cell's panel): clicks are
// delegated from the document.
(() => {
  "use strict";

  const GIVE_UP_AFTER = 120_000; // ms of 202s before saying "not ready yet"
  const composed = new Map(); // map URL -> the composed picture (a data: URL)

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const asDataUrl = (blob) =>
    new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });

  const loaded = async (src) => {
    const image = new Image();
    image.src = src;
    await image.decode();
    return image;
  };

  // The map as a data: URL; throws an Error whose message is for the user.
  const fetchMap = async (url) => {
    const deadline = Date.now() + GIVE_UP_AFTER;
    for (;;) {
      const response = await fetch(url, { headers: { Accept: "image/png, application/json" } });
      if (response.status === 200) return asDataUrl(await response.blob());
      if (response.status !== 202) {
        let detail = `the server answered ${response.status}`;
        try {
          detail = (await response.json()).detail || detail;
        } catch {
          // not JSON: keep the status
        }
        throw new Error(detail);
      }
      if (Date.now() > deadline) throw new Error("the map is not ready yet; try again shortly");
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      await sleep(Math.min(Math.max(seconds, 0.5), 10) * 1000);
    }
  };

  const compose = async (picture, url) => {
    if (composed.has(url)) return composed.get(url);
    const [base, heat] = await Promise.all([
      loaded(picture.dataset.saliencyOriginal),
      fetchMap(url).then(loaded),
    ]);
    const canvas = document.createElement("canvas");
    canvas.width = base.naturalWidth;
    canvas.height = base.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(base, 0, 0);
    context.drawImage(heat, 0, 0, canvas.width, canvas.height);
    const result = canvas.toDataURL("image/jpeg", 0.9);
    composed.set(url, result);
    return result;
  };

  const show = async (picture) => {
    // The attribute as written (a path), not the resolved URL: off restores it exactly.
    if (!picture.dataset.saliencyOriginal) {
      picture.dataset.saliencyOriginal = picture.getAttribute("src");
    }
    const url = picture.dataset.saliencyUrl;
    picture.src = await compose(picture, url);
    picture.dataset.saliencyShown = "true";
  };

  const hide = (picture) => {
    if (picture.dataset.saliencyOriginal) {
      picture.setAttribute("src", picture.dataset.saliencyOriginal);
    }
    delete picture.dataset.saliencyShown;
  };

  const toggle = async (button) => {
    const scope = button.closest("[data-saliency-scope]") || document;
    const status = scope.querySelector("[data-saliency-status]");
    const pictures = [...scope.querySelectorAll("img[data-saliency-url]")];
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    if (!on) {
      pictures.forEach(hide);
      if (status) status.textContent = "";
      return;
    }
    if (status) status.textContent = "Making the map…";
    const results = await Promise.allSettled(pictures.map(show));
    if (button.getAttribute("aria-pressed") !== "true") {
      pictures.forEach(hide); // turned off while the maps were coming
      return;
    }
    const failed = results.filter((r) => r.status === "rejected");
    if (!status) return;
    if (failed.length === 0) {
      status.textContent = "Warmer colours: where the model found the evidence for its class.";
    } else {
      const reason = failed[0].reason && failed[0].reason.message;
      status.textContent = `${failed.length} of ${pictures.length} map(s) could not be shown: ${reason}`;
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-saliency-toggle]");
    if (button) toggle(button);
  });
})();
