"""Every Celery task's name and queue, in one place for the web and the workers.

The web sends tasks by name (it must not import the worker code, which brings torch) and
``workers/tasks.py`` registers each one under the same name: both import it from here, so
neither can drift from the other. The values are what the broker holds in its queues:
renaming one would strand the messages already sent.
"""

from __future__ import annotations

from typing import Final

INGEST: Final = "ingest"  # CPU: validate, hash, thumbnail
ML: Final = "ml"  # GPU when there is one: embed, train, score
QUEUES: Final = (INGEST, ML)

PING: Final = "curator.ping"  # a round trip check; answered on any queue
IMPORT_PLAN: Final = "curator.images.plan"
IMPORT_CHUNK: Final = "curator.images.chunk"
TRAIN: Final = "curator.ml.train"
EMBED: Final = "curator.ml.embed"
SCORE: Final = "curator.ml.score"
EMBEDDING_MAP: Final = "curator.ml.embedding_map"  # fit or extend a project's 2-D map
SALIENCY: Final = "curator.ml.saliency"  # one Grad-CAM map of one image

QUEUE_OF: Final[dict[str, str]] = {
    IMPORT_PLAN: INGEST,
    IMPORT_CHUNK: INGEST,
    TRAIN: ML,
    EMBED: ML,
    SCORE: ML,
    EMBEDDING_MAP: ML,
    SALIENCY: ML,
}
