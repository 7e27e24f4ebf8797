"""The workers' Celery app, configured from the same settings as the web."""

from __future__ import annotations

from app.broker import make_celery
from app.config import get_settings

celery_app = make_celery(get_settings(), include=["workers.tasks"])

# The timer (reaper, outbox dispatcher, "alive" reports) starts with the worker.
# So is the publishing of the backbone catalog (timm and torchvision names).
import workers.backbone_catalog  # noqa: E402
import workers.timer  # noqa: E402, F401
