from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, str_enum, utcnow


class Category(Base):
    """One node of a project's taxonomy; ``parent_id`` None means a root."""

    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("project_id", "sibling_key"),
        UniqueConstraint("project_id", "shortcut"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    # RESTRICT: a parent goes only once its children have been moved or deleted.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # "<parent id or 0>/<folded name>": names are unique among siblings on both backends,
    # where a plain (project, parent, name) constraint would let NULL parents repeat.
    # 320: the parent id, and a folded name up to three times the name (see Project).
    sibling_key: Mapped[str] = mapped_column(String(320))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7))
    # Lower-case key; None once the project has used every key.
    shortcut: Mapped[str | None] = mapped_column(String(1), default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExampleKind(enum.StrEnum):
    positive = "positive"
    negative = "negative"


class CategoryExample(Base):
    """An image pinned to a category as a guide: what it is (positive) or is not (negative)."""

    __tablename__ = "category_examples"
    # One kind per image and category: an image cannot be both a good and a bad example.
    __table_args__ = (UniqueConstraint("category_id", "image_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ExampleKind] = mapped_column(str_enum(ExampleKind, "example_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
