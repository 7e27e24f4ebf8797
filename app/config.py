"""Settings: every knob is an environment variable prefixed ``CURATOR_``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholders that appear in examples and templates; a production secret equal to one
# of them is as good as public.
KNOWN_PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "dev"})
MIN_PRODUCTION_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    """The settings cannot be used as they are; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CURATOR_", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="`production` turns on the strict checks below."
    )
    data_dir: Path = Field(
        Path("data"), description="Images, thumbnails, models, the SQLite file and the broker."
    )
    storage_url: str = Field(
        "file://",
        description="Where files live: `file://` (the data dir), `file:///path`, or "
        "`s3://bucket/prefix` for any S3-compatible store (credentials: the standard AWS "
        "variables).",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="The S3 API's URL for a store other than AWS (MinIO, Ceph, R2), e.g. "
        "`http://minio:9000`. Credentials and region: `AWS_ACCESS_KEY_ID`, "
        "`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`.",
    )
    storage_redirect: bool = Field(
        False,
        description="With an s3:// store, answer image requests with a 302 to a short-lived "
        "presigned URL (after the same access check) instead of streaming through the web.",
    )
    storage_presign_seconds: int = Field(
        300, ge=10, le=7 * 24 * 3600, description="How long a presigned URL stays valid."
    )
    cache_dir: Path | None = Field(
        None,
        description="A worker's local copies of blobs from an s3:// store (originals, "
        "embedding shards, models). Default: `<data_dir>/cache`. Unused on file://.",
    )
    cache_max_bytes: int = Field(
        10 * 1024**3,
        ge=0,
        description="The worker cache's size limit in bytes; least recently used files go "
        "first. Default: 10 GiB.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Default: SQLite at `<data_dir>/curator.db`."
    )
    broker_url: str = Field(
        "filesystem://", description="`filesystem://` (embedded default) or `redis://host:6379/0`."
    )
    result_backend: str | None = Field(
        None, description="Celery results. Default: the Redis broker, or files in the data dir."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs session cookies. Required in production (32+ characters); "
        "in development one is generated and kept in the data dir.",
    )
    admin_password: SecretStr | None = Field(
        None, description="Password of the `admin` user created on the first start."
    )
    worker_queues: str = Field(
        "ingest,ml", description="Queues a worker consumes, comma-separated."
    )
    worker_concurrency: int = Field(1, ge=1, le=64, description="Task processes per worker.")
    session_max_age: int = Field(14 * 24 * 3600, ge=60, description="Login session life, seconds.")
    token_ttl: int = Field(7 * 24 * 3600, ge=60, description="API bearer token life, seconds.")
    login_free_failures: int = Field(
        3,
        ge=1,
        description="Failed logins for one username from one address before each further "
        "attempt from there must wait: the first delay, then twice as long each time.",
    )
    login_address_free_failures: int = Field(
        10,
        ge=1,
        description="Failed logins from one address, whatever the usernames, before that "
        "address must wait (slows password spraying).",
    )
    login_first_delay: int = Field(1, ge=1, description="First login delay, seconds.")
    login_max_delay: int = Field(900, ge=1, description="Longest login delay, seconds.")
    login_failure_window: int = Field(
        24 * 3600, ge=60, description="How long a failed login counts, seconds."
    )
    login_global_failures_per_minute: int = Field(
        60,
        ge=1,
        description="Failed logins per minute across all addresses above which every "
        "address that has failed waits from its first failure.",
    )
    max_request_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest accepted body for forms and JSON, bytes."
    )

    max_image_bytes: int = Field(
        50 * 2**20, ge=1024, description="Largest image file accepted, bytes."
    )
    max_image_pixels: int = Field(
        100_000_000,
        ge=10_000,
        description="Largest image accepted, in pixels (width x height): refuses decompression "
        "bombs before decoding.",
    )
    max_upload_bytes: int = Field(
        4 * 2**30, ge=2**20, description="Largest upload request (all its files), bytes."
    )
    max_archive_bytes: int = Field(
        20 * 2**30, ge=2**20, description="Largest uncompressed size of one zip, bytes."
    )
    max_archive_files: int = Field(100_000, ge=1, description="Most entries in one zip.")
    sync_import_max_files: int = Field(
        200,
        ge=0,
        description="Uploads with more files than this run as a background job on the "
        "`ingest` queue; smaller ones answer with their summary at once.",
    )
    near_duplicate_distance: int = Field(
        6,
        ge=0,
        le=32,
        description="Perceptual-hash bits two images may differ by and still be grouped as "
        "near duplicates.",
    )
    job_heartbeat_interval: float = Field(
        10.0,
        gt=0,
        le=15,
        description="How often a running training or import writes its heartbeat, seconds "
        "(from a thread of its own, also during long steps).",
    )
    job_stale_after: int = Field(
        45,
        ge=2,
        description="Seconds without a heartbeat after which a worker's reaper marks a running "
        "job failed: its worker died. More than twice the heartbeat interval.",
    )
    worker_tick: float = Field(
        10.0,
        gt=0,
        le=60,
        description="How often each worker reports itself alive, reaps stale jobs and sends "
        "queued work again whose message was lost, seconds.",
    )
    dispatch_timeout: int = Field(
        60,
        ge=1,
        description="Seconds a queued run or import may wait unclaimed after its message left "
        "before the message is sent again (then twice as long each time, up to 32 times).",
    )
    min_free_bytes: int = Field(
        2**30,
        ge=0,
        description="Free space in the data dir under which `/api/v1/health` says `degraded`, "
        "bytes.",
    )
    lease_seconds: int = Field(
        300,
        ge=1,
        description="How long `queue/next` holds an image for one labeler before it returns "
        "to the pool.",
    )
    gc_min_age: int = Field(
        3600,
        ge=60,
        description="Age, seconds, before a file no row names counts as an orphan that "
        "`curator gc` and the start of `curator serve` remove: a younger one may belong to "
        "an import still running.",
    )
    ml_device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$",
        description="Where workers train and embed: `auto` (CUDA when torch sees it), `cpu`, "
        "`cuda` or `cuda:N`.",
    )
    allow_weight_download: bool = Field(
        True,
        description="Let workers download pretrained weights of backbones that do not ship "
        "with a package (the default EfficientNet-Lite0 never needs to).",
    )

    @field_validator(
        "database_url", "result_backend", "secret_key", "admin_password", mode="before"
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # Compose files write `VAR=${VAR:-}`: an empty value means "not given".
        return None if value == "" else value

    @model_validator(mode="after")
    def _stale_after_outlasts_heartbeats(self) -> Settings:
        # One late heartbeat (a busy database, a long commit) must not end a live job.
        if self.job_stale_after <= 2 * self.job_heartbeat_interval:
            raise ValueError(
                "CURATOR_JOB_STALE_AFTER must be more than twice CURATOR_JOB_HEARTBEAT_INTERVAL."
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_production_secret(self) -> Settings:
        if self.env != "production":
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if not key or key.lower() in KNOWN_PLACEHOLDER_SECRETS:
            raise ValueError(
                "CURATOR_SECRET_KEY is missing or a placeholder, and CURATOR_ENV=production. "
                'Set it to a long random value, e.g. python -c "import secrets; '
                'print(secrets.token_urlsafe(48))"'
            )
        if len(key) < MIN_PRODUCTION_SECRET_LENGTH:
            raise ValueError(
                f"CURATOR_SECRET_KEY is shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters, "
                "and CURATOR_ENV=production. Use a long random value."
            )
        return self

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'curator.db').resolve()}"

    @property
    def resolved_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return f"file://{(self.data_dir / 'broker' / 'results').resolve()}"

    @property
    def queues(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]

    def resolved_secret_key(self) -> str:
        """The signing key; in development, generated once and kept in the data dir.

        Keeping it in the data dir means every process of one install (web, workers, a
        restart) signs with the same key without anyone having to set one.
        """
        if self.secret_key:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


def load_settings() -> Settings:
    """Read the environment, turning validation failures into one clear message."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            field = ".".join(str(p) for p in err["loc"])
            problems.append(f"CURATOR_{field.upper()}: {message}" if field else message)
        raise SettingsError("; ".join(problems)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
