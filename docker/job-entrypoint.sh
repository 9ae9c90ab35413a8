#!/bin/bash
# The job image's entrypoint: a harmwatch command line, or a Spark driver or executor.
#
# Spark on Kubernetes (spark-submit in cluster mode, and so the Spark operator's SparkApplications)
# starts its pods from the job image with the arguments `driver ...` or `executor`, and hands the
# executor its settings in environment variables; this follows the entrypoint of Spark's own
# Kubernetes images (resource-managers/kubernetes/docker/src/main/dockerfiles/spark/entrypoint.sh):
#
#   driver ARGS   spark-submit in client mode inside the driver pod, bound to the pod's address
#   executor      Spark's Kubernetes executor backend on the JVM, from SPARK_* variables
#   anything else `harmwatch ARGS` (a step pod, `docker run IMAGE ingest ...`)
#
# Nothing is written (the root filesystem is read-only in a pod); the passwd entry Spark's script adds
# for an anonymous UID is in the image already (UID 10001).
set -euo pipefail

need() {  # need ROLE VARIABLE...: one line naming the first variable Spark should have set and did not
    local role=$1 name
    shift
    for name in "$@"; do
        if [ -z "${!name:-}" ]; then
            echo "harmwatch-entrypoint: $role needs $name, which Spark sets on its pods; it is not set" >&2
            exit 2
        fi
    done
}

case "${1:-}" in
    driver)
        shift
        need driver SPARK_HOME SPARK_DRIVER_BIND_ADDRESS
        exec "$SPARK_HOME/bin/spark-submit" \
            --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
            --deploy-mode client \
            "$@"
        ;;
    executor)
        shift
        need executor SPARK_HOME JAVA_HOME SPARK_EXECUTOR_MEMORY SPARK_DRIVER_URL SPARK_EXECUTOR_ID \
            SPARK_EXECUTOR_CORES SPARK_APPLICATION_ID SPARK_EXECUTOR_POD_IP SPARK_RESOURCE_PROFILE_ID \
            SPARK_EXECUTOR_POD_NAME
        # The executor's JVM options come as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in that order.
        java_opts=()
        while IFS= read -r option; do
            java_opts+=("$option")
        done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n | sed 's/^[^=]*=//')
        classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$SPARK_HOME/jars/*"
        if [ -n "${SPARK_EXTRA_CLASSPATH:-}" ]; then
            classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
        fi
        exec "$JAVA_HOME/bin/java" "${java_opts[@]}" \
            "-Xms$SPARK_EXECUTOR_MEMORY" "-Xmx$SPARK_EXECUTOR_MEMORY" \
            -cp "$classpath" \
            org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
            --driver-url "$SPARK_DRIVER_URL" \
            --executor-id "$SPARK_EXECUTOR_ID" \
            --cores "$SPARK_EXECUTOR_CORES" \
            --app-id "$SPARK_APPLICATION_ID" \
            --hostname "$SPARK_EXECUTOR_POD_IP" \
            --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID" \
            --podName "$SPARK_EXECUTOR_POD_NAME"
        ;;
    *)
        exec harmwatch "$@"
        ;;
esac
