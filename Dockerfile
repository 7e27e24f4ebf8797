# syntax=docker/dockerfile:1
# Curator images, two targets (see docker-compose.yml):
#   docker build --target web -t curator-web .        # `pip install .`: no torch, no CUDA
#   docker build --target worker -t curator-worker .  # `pip install '.[worker]'`: the ML stack
# The worker image is the web image's dependencies plus the worker extra, so both run
# every `curator` command; only the worker's can run `curator worker` for ML tasks.

# --- Stage 1: front-end libraries from the npm registry -------------------------------
# Same steps as the Makefile target static/vendor/.installed: install scripts stay off,
# and only the three files Curator serves are kept.
FROM node:20-slim AS static
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    && mkdir -p static/vendor/swagger-ui \
    && cp node_modules/htmx.org/dist/htmx.min.js static/vendor/ \
    && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js \
          node_modules/swagger-ui-dist/swagger-ui.css static/vendor/swagger-ui/ \
    && touch static/vendor/.installed

# --- Stage 2: the Python runtime and the app user ---------------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 1000 curator \
    && useradd --system --uid 1000 --gid curator --create-home --shell /usr/sbin/nologin curator

# Why an editable install in /app rather than a plain `pip install .`:
# app/paths.py finds templates/, static/, migrations/ and alembic.ini in the parent
# directory of the `app` package. A plain install copies `app` into site-packages, where
# that parent holds none of them (checked: TEMPLATES_DIR then points into site-packages
# and does not exist). With `pip install -e .` the `app` package is imported from
# /app/app, so the parent is /app, where this stage keeps the source tree. The tree is
# owned by root and read-only for the `curator` user; only /data is writable.
WORKDIR /app

# The data dir (images, thumbnails, models, ...) is a volume owned by the app user; a new
# named volume mounted here starts with this ownership.
ENV CURATOR_DATA_DIR=/data
RUN mkdir -p /data && chown curator:curator /data

# --- Stage 3: dependencies, in their own layers, so a code change reinstalls none ------
# Each installs the project with empty stand-in packages, then drops the project itself.
FROM runtime AS web-deps
COPY pyproject.toml ./
RUN mkdir -p app workers \
    && touch app/__init__.py workers/__init__.py \
    && pip install . \
    && pip uninstall --yes curator \
    && rm -rf app workers build curator.egg-info

FROM web-deps AS worker-deps
RUN mkdir -p app workers \
    && touch app/__init__.py workers/__init__.py \
    && pip install '.[worker]' \
    && pip uninstall --yes curator \
    && rm -rf app workers build curator.egg-info

# --- Stage 4: the web image ----------------------------------------------------------------
FROM web-deps AS web
COPY . .
COPY --from=static /build/static/vendor static/vendor
RUN pip install --no-deps -e . && python -m compileall -q app workers migrations
# Fail the build, not the first start, if the files app/paths.py points at are missing
# or the `curator` command cannot even import.
RUN python -c "from app.paths import ALEMBIC_INI, MIGRATIONS_DIR, STATIC_DIR, TEMPLATES_DIR as T; \
assert all(p.exists() for p in (ALEMBIC_INI, MIGRATIONS_DIR, STATIC_DIR / 'vendor/htmx.min.js', T))" \
    && curator --help > /dev/null \
    && python -c "import importlib.util as u; assert not u.find_spec('torch'), 'torch in the web image'"

VOLUME /data
USER curator
EXPOSE 8000
ENTRYPOINT ["curator"]
# Web only; workers are separate containers (`curator worker`), see docker-compose.yml.
CMD ["serve", "--no-worker", "--host", "0.0.0.0", "--port", "8000"]

# --- Stage 5: the worker image (the last stage: a plain `docker build` makes this one) ---
FROM worker-deps AS worker
COPY . .
COPY --from=static /build/static/vendor static/vendor
RUN pip install --no-deps -e . && python -m compileall -q app workers migrations \
    && curator --help > /dev/null \
    && python -c "import torch, timm, sklearn"
VOLUME /data
USER curator
ENTRYPOINT ["curator"]
CMD ["worker"]
