"""The export API suite on an s3:// store: every zip's originals are read from the bucket.

The tests are tests/exports/test_export_api.py's own; only ``settings`` differs.
"""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.exports.test_export_api import *  # noqa: F403  the same tests, collected again here


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    return s3_settings
