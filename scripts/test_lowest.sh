#!/usr/bin/env bash
# The web's unit tests on the lowest versions pyproject.toml allows: a declared floor
# that is too low fails here, not on a user's machine. A throwaway venv outside the
# repository (ruff and pytest never see it); uv's `--resolution lowest-direct` takes the
# lowest allowed version of every direct dependency of the web install (`pip install .`,
# no extras), the newest of everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${LOWEST_VENV:-${TMPDIR:-/tmp}/curator-lowest}
# The web's unit tests that need no worker extra and no browser: fast, and through the
# whole stack (FastAPI, SQLAlchemy on SQLite and PostgreSQL, Celery's client, Pillow).
WEB_TESTS=(
  tests/auth
  tests/taxonomy
  tests/projects/test_projects_api.py
  tests/labeling/test_annotations.py
  tests/labeling/test_queue.py
  tests/images/test_upload_api.py
  tests/images/test_decode.py
  tests/insights/test_agreement_math.py
)

start=$(date +%s)
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet uv
uv=("$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python")
"${uv[@]}" --resolution lowest-direct -r pyproject.toml
# The test tools at their newest; the web's packages above stay as resolved.
"${uv[@]}" pytest httpx2 packaging
"${uv[@]}" --no-deps -e .
echo "== lowest allowed versions of the web's direct dependencies"
"$VENV/bin/python" - <<'PY'
import tomllib
from importlib.metadata import version
from packaging.requirements import Requirement

for line in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    req = Requirement(line)
    print(f"  {req.name}=={version(req.name)}  ({line})")
PY
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${WEB_TESTS[@]}"
echo "== lowest versions: passed in $(($(date +%s) - start)) s"
