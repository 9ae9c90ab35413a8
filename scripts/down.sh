#!/usr/bin/env bash
# make down: stop exactly what scripts/up.sh started, by the PIDs it recorded in
# $HARMWATCH_HOME/run/*.pid (never by process name): each server's process group, plus every
# descendant of its PID (Airflow's task processes start their own sessions). SIGTERM first,
# SIGKILL for whatever is left after 20 s.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${HARMWATCH_HOME:-$REPO/.harmwatch}"
RUN="$HOME_DIR/run"

descendants() {  # all PIDs below $1, from the parent links in ps
  local children
  children="$(ps -eo pid=,ppid= | awk -v p="$1" '$2 == p {print $1}')"
  for c in $children; do echo "$c"; descendants "$c"; done
}

# Reverse start order: the dashboard, Label Studio, MLflow, then the DAG processor and scheduler, then
# the API server.
pids=() groups=() names=()
for name in dashboard labelstudio mlflow airflow-dag-processor airflow-scheduler airflow-api-server; do
  f="$RUN/$name.pid"
  [ -f "$f" ] || continue
  read -r pid pgid <"$f" || true
  rm -f "$f"
  [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null || continue
  names+=("$name (PID $pid)")
  # The group up.sh created with setsid is led by the PID it started; never signal any other group.
  [ "${pgid:-}" = "$pid" ] && groups+=("$pgid")
  pids+=("$pid" $(descendants "$pid"))
done

if [ ${#names[@]} -eq 0 ]; then
  echo "make down: nothing running under $HOME_DIR"
  exit 0
fi

signal_all() {
  for g in "${groups[@]}"; do kill "-$1" -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "-$1" "$p" 2>/dev/null || true; done
}
any_alive() {
  for g in "${groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && return 0; done
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}

signal_all TERM
for _ in $(seq 40); do any_alive || break; sleep 0.5; done
if any_alive; then signal_all KILL; sleep 0.5; fi
for n in "${names[@]}"; do echo "make down: stopped $n"; done
