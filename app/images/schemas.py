from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.images.models import BatchStatus, Image, ImageStatus
from app.validation import Id


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


class Imported(BaseModel):
    id: int
    filename: str


class Duplicate(BaseModel):
    filename: str
    duplicate_of: int


class FileError(BaseModel):
    filename: str
    error: str


class ImportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    source: str
    name: str
    status: BatchStatus
    labels_from_folders: bool
    total: int | None
    processed: int
    imported: int
    duplicates: int
    errors: int
    labeled: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class UploadResult(BaseModel):
    """The upload's summary; when it runs as a background job, ``job`` says where to look."""

    imported: list[Imported]
    duplicates: list[Duplicate]
    errors: list[FileError]
    batch_id: int
    job: ImportJobOut | None = None
    # Set when the job could not be handed to a worker yet (the broker is down).
    message: str | None = None


class ImportJobDetail(ImportJobOut):
    duplicate_files: list[Duplicate]
    error_files: list[FileError]


class DuplicateGroup(BaseModel):
    id: int
    images: list[ImageOut]


class DuplicateGroupPage(BaseModel):
    items: list[DuplicateGroup]
    total: int


class KeepOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: Id


class KeepResult(BaseModel):
    kept: int
    rejected: int


class LineError(BaseModel):
    line: int
    error: str


class LabelsCsvResult(BaseModel):
    applied: int
    unchanged: int
    errors: list[LineError]
