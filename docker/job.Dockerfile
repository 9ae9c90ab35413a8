# syntax=docker/dockerfile:1
#
# harmwatch job image: every step pod runs `harmwatch <step>` from this image (see docs/architecture.md,
# "Contracts"). The Helm chart also runs the MLflow tracking server from it (`mlflow server`), so
# client and server share one pinned MLflow and the PostgreSQL driver.
#
# Build from the repository root:
#   docker buildx build -f docker/job.Dockerfile -t harmwatch-job:dev .
# or without a registry (`make images`, Podman): PYTHON_IMAGE is then a locally built stand-in of the
# same shape (docker/local/python-base.sh).
#
# Contents: the harmwatch package with its job dependencies and the `postgres` extra, pinned by
# requirements.lock (used as constraints), PySpark among them, and Debian's Java 17 runtime for the
# Spark engine; the entrypoint also starts Spark's driver and executors on Kubernetes. No Airflow:
# steps never import it. Not included: Hadoop's S3A connector (docs/scaling.md says what to add).
#
# Layers: the dependencies are one large layer that changes only with pyproject.toml or the lock; the
# harmwatch wheel is built in a stage of its own and installed as a small layer on top, so a source
# change rebuilds and ships kilobytes (no copy of the virtualenv between stages to hash or store).

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

############################
# wheel: the harmwatch package built from the source, and the list of its job dependencies
############################
FROM ${PYTHON_IMAGE} AS wheel

WORKDIR /src
COPY pyproject.toml README.md ./
# The job dependencies and the `postgres` extra, from the project metadata. The runtime stage copies
# this list, not pyproject.toml, so editing other parts of pyproject.toml keeps its dependency layer.
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"] + p["optional-dependencies"]["postgres"]))' \
        > job-requirements.txt
COPY jobs/ jobs/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

############################
# runtime: slim, non-root, read-only-root friendly
############################
FROM ${PYTHON_IMAGE} AS runtime

ARG UV_VERSION=0.13.9

LABEL org.opencontainers.image.title="harmwatch-job" \
      org.opencontainers.image.description="harmwatch step jobs (harmwatch <step>) and the MLflow server" \
      org.opencontainers.image.licenses="Apache-2.0"

# One writable directory (HOME and HARMWATCH_HOME) plus /tmp: in Kubernetes both are emptyDir
# volumes and the root filesystem is mounted read-only.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
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

# 1. Dependencies only, pinned by the lock, into the virtualenv /opt/venv: this layer is rebuilt when
#    the dependency list or requirements.lock change, not when the source does. uv installs them
#    (parallel downloads and unpacking; pip took about 10 minutes for this layer on a 2-core builder)
#    and is removed again. Bytecode is compiled here because the root filesystem is read-only when a
#    step runs. UV_SYSTEM_CERTS: uv trusts the system's CA store (e.g. an organisation's own CA).
WORKDIR /opt/harmwatch
COPY requirements.lock ./
COPY --from=wheel /src/job-requirements.txt ./
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir "uv==${UV_VERSION}" \
    && UV_SYSTEM_CERTS=1 uv pip install --no-cache --compile-bytecode -c requirements.lock -r job-requirements.txt \
    && pip uninstall --yes uv

# 2. The package itself, without touching the dependencies installed above.
COPY --from=wheel /wheels /opt/harmwatch/wheels
RUN pip install --no-cache-dir --no-deps --no-index wheels/*.whl \
    && pip check \
    && harmwatch --help > /dev/null

# 3. The entrypoint: `harmwatch <args>`, or a Spark driver or executor when Spark on Kubernetes starts
#    the pod with `driver ...` or `executor` (docker/job-entrypoint.sh).
COPY --chmod=0755 docker/job-entrypoint.sh /usr/local/bin/harmwatch-entrypoint

USER 10001:10001
WORKDIR /var/lib/harmwatch

ENTRYPOINT ["harmwatch-entrypoint"]
CMD ["--help"]
