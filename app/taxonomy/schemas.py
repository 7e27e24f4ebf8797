from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.taxonomy.models import ExampleKind
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
    image_count: int
    subtree_count: int


class CategorySpec(BaseModel):
    """A category and its sub-tree, as imported and exported."""

    model_config = ConfigDict(extra="forbid")

    name: CategoryName
    description: Description = ""
    color: Color | None = None
    shortcut: Shortcut | None = None
    children: list[CategorySpec] = []


class TaxonomyImport(BaseModel):
    """Either nested ``categories`` or indented ``text`` (one name per line)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[CategorySpec] | None = None
    text: Annotated[str, StringConstraints(max_length=500_000)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TaxonomyImport:
        if (self.categories is None) == (self.text is None):
            raise ValueError("send either 'categories' or 'text'")
        return self


class TaxonomyImportResult(BaseModel):
    created: int
    existing: int
    categories: list[CategoryOut]


class TaxonomyExport(BaseModel):
    categories: list[CategorySpec]


class CategoryMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_id: Id


class ExamplePin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: Id
    kind: ExampleKind
