from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.projects.choices import BackboneName, StrategyName
from app.projects.models import ProjectRole
from app.validation import Description, Name, Username


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    archived: bool | None = None
    overlap_percent: int | None = Field(None, ge=0, le=100)
    auto_train_every: int | None = Field(None, ge=0, le=100_000)
    default_strategy: StrategyName | None = None
    backbone: BackboneName | None = None
    # The share of labeled images kept out of every run as a fixed test split.
    test_share: float | None = Field(None, ge=0.0, le=0.5, allow_inf_nan=False)


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    created_at: datetime
    archived: bool
    archived_at: datetime | None
    overlap_percent: int
    auto_train_every: int
    default_strategy: str
    backbone: str
    test_share: float


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    role: ProjectRole = ProjectRole.labeler


class MemberOut(BaseModel):
    user_id: int
    username: str
    role: ProjectRole
    created_at: datetime
