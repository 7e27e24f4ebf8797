"""Every table, imported in one place so Alembic and tests see the whole schema."""

from app.auth.models import ApiToken, LoginFailure, User
from app.background.models import WorkerHeartbeat
from app.db import Base
from app.images.models import Image, ImportBatch, ImportIssue
from app.insights.models import (
    EmbeddingMap,
    EmbeddingMapPoint,
    LabelIssue,
    OutlierScore,
    ReviewDismissal,
    SaliencyMap,
)
from app.labeling.models import Annotation
from app.projects.backbone_catalog import BackboneCatalogEntry
from app.projects.models import Membership, Project
from app.taxonomy.models import Category
from app.training.models import (
    Embedding,
    Prediction,
    QueueRank,
    Scoring,
    TrainingRun,
    TrainingSample,
)

__all__ = [
    "Annotation",
    "ApiToken",
    "BackboneCatalogEntry",
    "Base",
    "Category",
    "Embedding",
    "EmbeddingMap",
    "EmbeddingMapPoint",
    "Image",
    "ImportBatch",
    "ImportIssue",
    "LabelIssue",
    "LoginFailure",
    "Membership",
    "OutlierScore",
    "Prediction",
    "Project",
    "QueueRank",
    "ReviewDismissal",
    "SaliencyMap",
    "Scoring",
    "TrainingRun",
    "TrainingSample",
    "User",
    "WorkerHeartbeat",
]
