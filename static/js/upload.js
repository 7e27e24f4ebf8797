// The project page's upload: every file is its own request, two at a time, each with
// its own progress bar; at the end a summary lists what came in, the duplicates (with a
// link to the original) and the errors. Filenames and reasons come from users and the
// server, so they are only ever set as textContent, never as HTML.
// Also: the export form leaves out blank number fields ("no level" is not "level=").
(() => {
  "use strict";
  const CONCURRENCY = 2;
  const SHOWN = 500; // items listed per summary section; the counts stay exact

  const csrfToken = window.Curator.csrfToken;

  const { make } = window.Curator;

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  const parse = (text) => {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  };

  const describeFailure = (status, data) => {
    if (data && typeof data.detail === "string") return data.detail;
    if (status === 0) return "The upload did not reach the server (connection lost or refused).";
    if (status === 413) return "Too large: the server refuses uploads this big.";
    return `The server answered ${status}.`;
  };

  function setUpUpload(root) {
    const url = root.dataset.uploadUrl;
    const zone = root.querySelector("[data-dropzone]");
    const input = root.querySelector('input[type="file"]');
    const folders = root.querySelector("[data-labels-from-folders]");
    const list = root.querySelector(".uploads");
    const summary = root.querySelector(".upload-summary");
    const line = summary.querySelector("[data-summary-line]");
    const body = summary.querySelector("[data-summary-body]");
    const queue = [];
    let active = 0;
    let run = null; // the files dropped since the last summary

    const add = (files) => {
      if (!files || files.length === 0) return;
      if (run === null) {
        run = { imported: [], duplicates: [], errors: [], jobs: [] };
        list.replaceChildren();
        summary.hidden = true;
      }
      list.hidden = false;
      const labels = Boolean(folders && folders.checked);
      for (const file of files) {
        const row = make("li");
        const name = make("span", file.name, { class: "filename" });
        const bar = make("progress", null, { max: "1", value: "0" });
        bar.setAttribute("aria-label", `Uploading ${file.name}`);
        const state = make("span", "waiting", { class: "upload-state" });
        row.append(name, bar, state);
        list.append(row);
        queue.push({ file, labels, row, bar, state });
      }
      pump();
    };

    const pump = () => {
      while (active < CONCURRENCY && queue.length > 0) {
        active += 1;
        send(queue.shift());
      }
      if (active === 0 && queue.length === 0 && run !== null) finish();
    };

    const send = (item) => {
      const form = new FormData();
      form.append("files", item.file, item.file.name);
      if (item.labels) form.append("labels_from_folders", "true");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      item.state.textContent = "uploading";
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        item.bar.max = event.total;
        item.bar.value = event.loaded;
        if (event.loaded >= event.total) item.state.textContent = "processing";
      });
      xhr.addEventListener("load", () => done(item, xhr.status, parse(xhr.responseText)));
      xhr.addEventListener("error", () => done(item, 0, null));
      xhr.addEventListener("abort", () => done(item, 0, null));
      xhr.send(form);
    };

    const done = (item, status, data) => {
      item.bar.max = 1;
      item.bar.value = 1;
      if (status === 202 && data && data.job) {
        const job = { filename: item.file.name, id: Number(data.job.id), text: "", views: [item.state] };
        run.jobs.push(job);
        follow(job);
      } else if (status >= 200 && status < 300 && data) {
        const imported = data.imported || [];
        const duplicates = data.duplicates || [];
        const errors = data.errors || [];
        run.imported.push(...imported);
        run.duplicates.push(...duplicates);
        run.errors.push(...errors);
        item.state.textContent =
          errors.length === 1 && imported.length + duplicates.length === 0
            ? `error: ${errors[0].error}`
            : [
                plural(imported.length, "imported", "imported"),
                plural(duplicates.length, "duplicate", "duplicates"),
                plural(errors.length, "error", "errors"),
              ].join(", ");
      } else {
        const reason = describeFailure(status, data);
        run.errors.push({ filename: item.file.name, error: reason });
        item.state.textContent = `error: ${reason}`;
      }
      item.row.classList.add(item.state.textContent.startsWith("error") ? "failed" : "done");
      active -= 1;
      pump();
    };

    // A background import: its row and its summary line follow it until it ends, then
    // the counts (the Gallery badge) and the imports list refresh, without a reload.
    const FOLLOW_MS = [1000, 1000, 2000, 3000, 5000]; // then every 5 s
    const jobText = (data) => {
      if (!data || data.status === "queued") return "queued";
      if (data.status === "succeeded") {
        return `done: ${data.imported} imported, ${plural(data.duplicates, "duplicate", "duplicates")}, ${plural(data.errors, "error", "errors")}`;
      }
      if (data.status === "failed") return `failed: ${data.error || "see the import's page"}`;
      return `running: ${data.total ? `${data.processed}/${data.total}` : data.processed} files`;
    };
    const showJob = (job, data) => {
      job.text = jobText(data);
      for (const view of job.views) view.textContent = view === job.views[0] ? `import #${job.id} ${job.text}` : job.text;
    };
    const follow = async (job) => {
      showJob(job, null);
      for (let attempt = 0; ; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS[Math.min(attempt, FOLLOW_MS.length - 1)]));
        let data = null;
        try {
          const response = await fetch(`/api/v1/imports/${job.id}`, { headers: { Accept: "application/json" } });
          if (response.status === 404 || response.status === 403) return; // gone, or no longer ours
          if (response.ok) data = await response.json();
        } catch {
          data = null; // the server is unreachable for now: ask again
        }
        if (!data) continue;
        showJob(job, data);
        if (data.status === "succeeded" || data.status === "failed") {
          document.body.dispatchEvent(new CustomEvent("imports-changed"));
          return;
        }
      }
    };

    const section = (title, items, render) => {
      if (items.length === 0) return null;
      const box = make("div");
      box.append(make("h4", `${title} (${items.length})`));
      const ul = make("ul", null, { "aria-label": title });
      for (const item of items.slice(0, SHOWN)) ul.append(render(item));
      if (items.length > SHOWN) ul.append(make("li", `and ${items.length - SHOWN} more`));
      box.append(ul);
      return box;
    };

    const link = (href, text) => make("a", text, { href });

    const finish = () => {
      const { imported, duplicates, errors, jobs } = run;
      run = null;
      const parts = [
        `${imported.length} imported`,
        plural(duplicates.length, "duplicate", "duplicates"),
        plural(errors.length, "error", "errors"),
      ];
      if (jobs.length > 0) parts.push(plural(jobs.length, "background import", "background imports"));
      line.textContent = `${parts.join(", ")}.`;
      const sections = [
        section("Imported", imported, (i) => {
          const li = make("li");
          li.append(link(`/images/${Number(i.id)}`, i.filename));
          return li;
        }),
        section("Duplicates", duplicates, (d) => {
          const li = make("li");
          li.append(make("span", d.filename, { class: "filename" }), ": duplicate of ");
          li.append(link(`/images/${Number(d.duplicate_of)}`, `image ${Number(d.duplicate_of)}`));
          return li;
        }),
        section("Errors", errors, (e) => {
          const li = make("li");
          li.append(make("span", e.filename, { class: "filename" }), `: ${e.error}`);
          return li;
        }),
        section("Background imports", jobs, (j) => {
          const li = make("li");
          const state = make("span", j.text);
          j.views.push(state);
          li.append(make("span", j.filename, { class: "filename" }), ": ");
          li.append(link(`/imports/${Number(j.id)}`, `import #${Number(j.id)}`), " ", state);
          return li;
        }),
      ];
      body.replaceChildren(...sections.filter(Boolean));
      summary.hidden = false;
      // The imports list and the gallery counts refresh themselves (htmx triggers).
      document.body.dispatchEvent(new CustomEvent("imports-changed"));
    };

    input.addEventListener("change", () => {
      add(Array.from(input.files || []));
      input.value = ""; // the same files may be chosen again
    });
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
        zone.classList.add("dragging");
      });
    }
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      add(Array.from((event.dataTransfer && event.dataTransfer.files) || []));
    });
    // A file dropped just beside the zone must not make the browser leave the page.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
  }

  function setUpExport(form) {
    form.addEventListener("submit", () => {
      const blank = [...form.querySelectorAll('input[type="number"]')].filter(
        (field) => field.value.trim() === "",
      );
      // Disabled fields are left out of the request; enable them again for the next try.
      for (const field of blank) field.disabled = true;
      setTimeout(() => {
        for (const field of blank) field.disabled = false;
      }, 0);
    });
  }

  const start = () => {
    for (const root of document.querySelectorAll("[data-upload-url]")) setUpUpload(root);
    for (const form of document.querySelectorAll("form[data-export]")) setUpExport(form);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
