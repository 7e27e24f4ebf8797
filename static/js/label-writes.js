// The labeling screen's writes: they go out in the background, one after another (so that
// an undo always follows the label it undoes), each annotation with its own
// Idempotency-Key and retried on network failure.
"use strict";

window.CuratorWrites = {
  create({ pid, kit, fail }) {
    const { uuid } = window.Curator;
    const { api, withRetry, describe, afterPaint } = kit;
    let writes = Promise.resolve();
    const write = (task) => {
      writes = writes.then(task, task);
      return writes;
    };

    // The odd-pictures queue's keep, and its undo: not annotations (see label-review.js).
    const dismissals = `/api/v1/images/`;
    const keep = (item) =>
      write(async () => {
        try {
          await withRetry(() => api("POST", `${dismissals}${item.id}/dismissals`, { queue: "odd_pictures" }));
        } catch (error) {
          item.decision = null;
          fail(`${item.data.filename}: ${describe(error)}`);
        }
      });
    const takeBack = (item) =>
      write(() =>
        withRetry(() => api("DELETE", `${dismissals}${item.id}/dismissals?queue=odd_pictures`)).catch((error) =>
          fail(`${item.data.filename}: ${describe(error)}`),
        ),
      );

    // A refused decision is taken back on screen (`item.decision`), with the reason said.
    const annotate = (item, body) => {
      if (body.kept) return keep(item);
      const key = uuid();
      write(async () => {
        await afterPaint(); // the chain keeps the order: an undo still follows its label
        try {
          await withRetry(() =>
            api("POST", `/api/v1/images/${item.id}/annotations`, body, { "Idempotency-Key": key }),
          );
        } catch (error) {
          item.decision = null;
          fail(`${item.data.filename}: ${describe(error)}`);
        }
      });
    };

    // A skipped image goes back to the pool; if that fails, its lease runs out anyway.
    const release = (item) =>
      write(() =>
        api("POST", `/api/v1/projects/${pid}/queue/release`, { image_ids: [item.id] }).catch(() => undefined),
      );

    // `then(image id the server undid, or null)`, after every write before it.
    const undo = (then) =>
      write(async () => {
        try {
          const { data } = await withRetry(() => api("POST", `/api/v1/projects/${pid}/undo`));
          await then(data ? Number(data.image_id) : null);
        } catch (error) {
          fail(describe(error));
        }
      });

    return { annotate, release, undo, takeBack };
  },
};
