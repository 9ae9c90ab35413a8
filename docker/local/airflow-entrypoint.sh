#!/usr/bin/env bash
# The official Airflow image's entrypoint contract, reduced to what the stand-in base needs:
# `bash`, `python` or `airflow` run as given; anything else is an `airflow` sub-command.
set -euo pipefail
if [[ $# -eq 0 ]]; then
    exec airflow --help
fi
case "$1" in
    bash | python | airflow) exec "$@" ;;
    *) exec airflow "$@" ;;
esac
