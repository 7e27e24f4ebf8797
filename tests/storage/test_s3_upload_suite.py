"""The whole upload API suite (good files, every format, the hostile corpus: bad files,
hostile zips, bombs, limits, duplicates, labels files) on an s3:// store.

The tests are tests/images/test_upload_api.py's own; only ``settings`` differs. After each,
the data dir holds no image files: everything went to the bucket.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import Settings
from tests.images.test_upload_api import *  # noqa: F403  the same tests, collected again here
from tests.support.s3 import S3Server


@pytest.fixture
def settings(s3_settings: Settings, s3: S3Server) -> Iterator[Settings]:
    yield s3_settings
    local = [p for p in ("images", "thumbnails", "display") if (s3_settings.data_dir / p).exists()]
    assert local == [], "image files were written to the data dir, not the bucket"
    assert all(k.split("/")[0] in {"images", "thumbnails", "display"} for k in s3.stored_keys())
