from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.validation import CategoryName, Description, Id

Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Shortcut = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=1)
]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CategoryName
    parent_id: Id | None = None
    description: Description = ""
    shortcut: Shortcut | None = None
    color: Color | None = None


class CategoryUpdate(BaseModel):
    """Only the fields sent change; ``"parent_id": null`` moves the category to the root."""

    model_config = ConfigDict(extra="forbid")

    name: CategoryName | None = None
    parent_id: Id | None = None
    description: Description | None = None
    shortcut: Shortcut | None = None
    color: Color | None = None
    position: Annotated[int, Field(ge=0, le=100_000)] | None = None


class CategoryOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    path: str
    depth: int
    description: str
    color: str
    shortcut: str | None
    position: int
