from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.images.models import Image, ImageStatus


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    width: int
    height: int
    status: ImageStatus
    category_id: int | None
    format: str
    size_bytes: int
    sha256: str
    phash: str
    batch_id: int | None
    dup_group_id: int | None
    created_at: datetime
    file_url: str  # the original bytes
    thumbnail_url: str
    display_url: str  # what a browser can show: the original, or a PNG for TIFF


def image_out(image: Image) -> ImageOut:
    """The API's shape of an image, with the URLs of its bytes."""
    return ImageOut.model_validate(
        {
            **{k: getattr(image, k) for k in ImageOut.model_fields if hasattr(image, k)},
            "file_url": f"/api/v1/images/{image.id}/file",
            "thumbnail_url": f"/api/v1/images/{image.id}/thumbnail",
            "display_url": f"/api/v1/images/{image.id}/display",
        }
    )


class ImagePage(BaseModel):
    items: list[ImageOut]
    total: int
    limit: int
    offset: int


class DuplicateGroup(BaseModel):
    id: int
    images: list[ImageOut]


class DuplicateGroupPage(BaseModel):
    items: list[DuplicateGroup]
    total: int


class ExamplesOut(BaseModel):
    """A category's pinned example images (the taxonomy's API answers with it)."""

    positive: list[ImageOut]
    negative: list[ImageOut]
