# syntax=docker/dockerfile:1
#
# Local stand-in for the official `apache/airflow:<version>-python3.12` image, for machines that reach
# PyPI but no container registry (`make images`). docker/airflow.Dockerfile builds FROM it there, and
# FROM the official image everywhere else. Same shape as far as that Dockerfile relies on it:
#
# - user `airflow`, UID 50000, GID 0, home /home/airflow; AIRFLOW_HOME=/opt/airflow with dags/ and
#   logs/ owned by it (group 0 writable, as the official image does for OpenShift);
# - Airflow installed with pip into the user's environment, the virtualenv /home/airflow/.local
#   (VIRTUAL_ENV, first on PATH), so `pip install` as that user adds to it;
# - apache-airflow at the lock's version, with the `postgres` extra, constrained by requirements.lock
#   (the official image uses Airflow's own constraints file, kept at /home/airflow/constraints.txt);
# - the official entrypoint's contract: `airflow` sub-commands, or `bash`/`python`/`airflow` as given.
#
# Build from the repository root (PYTHON_IMAGE: the python:3.12-slim-bookworm image or its stand-in):
#   podman build -f docker/local/airflow-base.Dockerfile --build-arg PYTHON_IMAGE=... -t ... .

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG AIRFLOW_VERSION=3.3.2
ARG UV_VERSION=0.13.9

ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW_USER_HOME_DIR=/home/airflow \
    AIRFLOW_UID=50000 \
    AIRFLOW_VERSION=${AIRFLOW_VERSION} \
    AIRFLOW__CORE__LOAD_EXAMPLES=false \
    VIRTUAL_ENV=/home/airflow/.local \
    PATH=/home/airflow/.local/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
    && install -d -o 50000 -g 0 -m 0775 /opt/airflow /opt/airflow/dags /opt/airflow/logs

COPY --chown=50000:0 requirements.lock /home/airflow/constraints.txt
COPY --chmod=0755 docker/local/airflow-entrypoint.sh /entrypoint

# uv installs Airflow and its ~200 dependencies several times faster than pip (and is removed again);
# the official image can use uv as well (AIRFLOW_USE_UV). UV_SYSTEM_CERTS: the system's CA store.
USER 50000
RUN python -m venv /home/airflow/.local \
    && pip install --no-cache-dir "uv==${UV_VERSION}" \
    && UV_SYSTEM_CERTS=1 uv pip install --no-cache -c /home/airflow/constraints.txt \
        --compile-bytecode "apache-airflow[postgres]==${AIRFLOW_VERSION}" \
    && pip uninstall --yes uv \
    && airflow version

WORKDIR /opt/airflow
EXPOSE 8080
ENTRYPOINT ["/entrypoint"]
CMD []
