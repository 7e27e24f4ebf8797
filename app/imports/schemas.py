"""The import API's shapes: an upload's summary, import jobs, a labels file's result."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.images.models import BatchStatus


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


class LineError(BaseModel):
    line: int
    error: str


class LabelsCsvResult(BaseModel):
    applied: int
    unchanged: int
    errors: list[LineError]
