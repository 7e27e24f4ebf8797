// The image page's keys: a category's key (or button) labels the image, R rejects it
// through the reason picker, the arrow keys open the previous and next image of the list
// it was opened from, + shows it full screen (as + zooms on the labeling screen). A decision goes to the annotations API with
// its own Idempotency-Key (retried on network failure); then the next image of the list
// opens, or this one again with its new label. Server data is only ever set as text.
(() => {
  "use strict";

  const screen = window.Curator.screen("[data-image-page]", "image-settings");
  if (!screen) return;
  const { root, settings, byId, byKey, $ } = screen;
  const imageId = Number(settings.image_id);
  const { say, fail } = window.Curator.toaster($("[data-toast]"), $("[data-error]"), 4000);
  const previous = $("a[rel=prev]");
  const next = $("a[rel=next]");
  const rejectButton = $("[data-reject]");
  const reasons = $("[data-reasons]");
  const reasonForm = $("[data-reason-form]");
  const reasonText = reasons.querySelector("input");
  const lightbox = $("[data-lightbox]");
  const lightboxImage = $("[data-lightbox-image]");

  const RETRIES = 4;

  let busy = false;
  const decide = async (body, done) => {
    if (busy) return;
    busy = true;
    // One Idempotency-Key for every attempt: a retried write is never stored twice.
    const key = window.Curator.uuid();
    let response = null;
    try {
      response = await window.Curator.retry(
        () =>
          fetch(`/api/v1/images/${imageId}/annotations`, {
            method: "POST",
            headers: {
              Accept: "application/json",
              "Content-Type": "application/json",
              "X-CSRF-Token": window.Curator.csrfToken(),
              "Idempotency-Key": key,
            },
            body: JSON.stringify(body),
          }),
        RETRIES,
      );
    } catch {
      response = null; // never reached the server, even after the retries
    }
    if (!response) {
      busy = false;
      fail("The server could not be reached; the image is not labeled. Check the connection and try again.");
      return;
    }
    if (!response.ok) {
      let detail = `The server answered ${response.status}.`;
      try {
        const data = await response.json();
        if (data && typeof data.detail === "string") detail = data.detail;
      } catch {
        // not JSON: keep the status line
      }
      busy = false;
      fail(detail);
      return;
    }
    say(done);
    window.location.assign(next ? next.href : window.location.href);
  };

  const label = (category) => decide({ category_id: category.id }, `Labeled as ${category.path}`);
  const reject = (reason) => {
    reasons.close();
    const body = reason ? { rejected: true, reason } : { rejected: true };
    decide(body, reason ? `Rejected (${reason})` : "Rejected");
  };

  for (const button of root.querySelectorAll("[data-category]")) {
    button.addEventListener("click", () => label(byId.get(Number(button.dataset.category))));
  }
  const openReasons = () => {
    if (!rejectButton) return;
    reasonForm.hidden = true;
    reasonText.value = "";
    reasons.showModal();
    reasons.querySelector("[data-reject-plain]").focus();
  };
  if (rejectButton) rejectButton.addEventListener("click", openReasons);
  for (const button of reasons.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => reasons.close());
  }
  window.CuratorReasons.bind(reasons, reasonForm, reasonText, reject);

  // The full-size picture is only fetched when asked for.
  const zoom = () => {
    if (!lightboxImage.getAttribute("src")) lightboxImage.setAttribute("src", lightboxImage.dataset.src);
    lightbox.showModal();
  };
  $("[data-zoom]").addEventListener("click", zoom);
  lightbox.querySelector("[data-close]").addEventListener("click", () => lightbox.close());
  lightbox.addEventListener("click", (event) => {
    if (event.target === lightbox || event.target === lightboxImage) lightbox.close();
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (reasons.open) return;
    if (window.Curator.isTyping(event.target)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    let handled = true;
    if (lightbox.open) {
      if (key === "+" || key === "=") lightbox.close();
      else handled = false; // Esc closes the dialog natively
    } else if (key === "ArrowLeft" && previous) window.location.assign(previous.href);
    else if (key === "ArrowRight" && next) window.location.assign(next.href);
    else if (key === "+" || key === "=") zoom();
    else if (key === "r" && rejectButton) openReasons();
    else if (byKey.has(key) && root.querySelector("[data-category]")) label(byKey.get(key));
    else handled = false;
    if (handled) event.preventDefault();
  });
})();
