# syntax=docker/dockerfile:1
#
# harmwatch job image: every step pod runs `harmwatch <step>` from this image (see DESIGN.md,
# "Runners"). The Helm chart also runs the MLflow tracking server from it (`mlflow server`), so
# client and server share one pinned MLflow and the PostgreSQL driver.
#
# Build from the repository root:
#   docker buildx build -f docker/job.Dockerfile -t harmwatch-job:dev .
#
# Contents: the harmwatch package with its job dependencies and the `postgres` extra, pinned by
# requirements.lock (used as constraints), PySpark among them, and Debian's Java 17 runtime for the
# Spark engine. No Airflow: steps never import it.

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

############################
# builder: a virtualenv in /opt/venv
############################
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src

# 1. Dependencies only, from the project metadata and the lock: this layer is rebuilt when
#    pyproject.toml or requirements.lock change, not when the source does.
COPY pyproject.toml requirements.lock ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"] + p["optional-dependencies"]["postgres"]))' \
        > /tmp/job-requirements.txt \
    && pip install -c requirements.lock -r /tmp/job-requirements.txt

# 2. The package itself, without touching the dependencies installed above.
COPY jobs/ jobs/
COPY README.md ./
RUN pip install --no-deps . \
    && pip check \
    && harmwatch --help > /dev/null

############################
# runtime: slim, non-root, read-only-root friendly
############################
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="harmwatch-job" \
      org.opencontainers.image.description="harmwatch step jobs (harmwatch <step>) and the MLflow server" \
      org.opencontainers.image.licenses="Apache-2.0"

# One writable directory (HOME and HARMWATCH_HOME) plus /tmp: in Kubernetes both are emptyDir
# volumes and the root filesystem is mounted read-only.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/harmwatch \
    HARMWATCH_HOME=/var/lib/harmwatch \
    MPLCONFIGDIR=/tmp/matplotlib \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    HARMWATCH_RUNNER=kubernetes

# The Spark engine's Java runtime (PySpark, installed with the job dependencies, brings Spark's jars).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_HOME=/opt/venv/lib/python3.12/site-packages/pyspark \
    PYSPARK_PYTHON=/opt/venv/bin/python

RUN groupadd --system --gid 10001 harmwatch \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/harmwatch --shell /usr/sbin/nologin harmwatch \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/harmwatch

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/harmwatch

ENTRYPOINT ["harmwatch"]
CMD ["--help"]
