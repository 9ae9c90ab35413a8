# syntax=docker/dockerfile:1
#
# harmwatch Airflow image: the official Apache Airflow image plus the cncf.kubernetes provider
# and the DAGs baked in. Steps run in pods from the job image (docker/job.Dockerfile), so this
# image does not carry the harmwatch package; the DAG files import nothing heavy.
#
# Build from the repository root:
#   docker buildx build -f docker/airflow.Dockerfile -t harmwatch-airflow:dev .
# or without a registry (`make images`, Podman): AIRFLOW_IMAGE is then a locally built stand-in of
# the same shape (docker/local/airflow-base.Dockerfile).
#
# Versions follow requirements.lock (apache-airflow, apache-airflow-providers-cncf-kubernetes), which
# also constrains everything the provider brings in.

ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.12
FROM ${AIRFLOW_IMAGE}

ARG AIRFLOW_VERSION=3.3.2
ARG CNCF_KUBERNETES_PROVIDER_VERSION=10.25.0

LABEL org.opencontainers.image.title="harmwatch-airflow" \
      org.opencontainers.image.description="Apache Airflow with the harmwatch DAGs" \
      org.opencontainers.image.licenses="Apache-2.0"

# The base image's `airflow` user is UID 50000 (GID 0); pip installs into its environment.
# Pinning apache-airflow to the image's own version keeps pip from up- or downgrading it.
USER 50000
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir -c /tmp/requirements.lock \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "apache-airflow-providers-cncf-kubernetes==${CNCF_KUBERNETES_PROVIDER_VERSION}"

ENV HARMWATCH_RUNNER=kubernetes

COPY --chown=50000:0 dags/ /opt/airflow/dags/
# The tables the DAGs are made from (standard library only): the gate table (the retrain DAG's trigger
# form) and the secrets each step uses; the DAG files find them beside dags/ as in the repository
# (dags/harmwatch_tables.py).
COPY --chown=50000:0 jobs/harmwatch/model/gates.py /opt/airflow/jobs/harmwatch/model/gates.py
COPY --chown=50000:0 jobs/harmwatch/access.py /opt/airflow/jobs/harmwatch/access.py
