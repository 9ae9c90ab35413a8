#!/usr/bin/env bash
# make up: the Airflow UI (API server, scheduler, DAG processor; LocalExecutor on SQLite), the
# MLflow UI, Label Studio (the moderators' review tool, devstack/labelstudio.py) and the dashboard of
# the platform over time (Evidently UI, devstack/dashboard.py) on the demo's state
# under HARMWATCH_HOME, bound to 127.0.0.1, sized for 2 cores.
#
#   HARMWATCH_HOME          state folder (default .harmwatch in the repository)
#   HARMWATCH_AIRFLOW_PORT, HARMWATCH_MLFLOW_PORT, HARMWATCH_LABEL_STUDIO_PORT, HARMWATCH_DASHBOARD_PORT,
#   HARMWATCH_AIRFLOW_SCHEDULES, HARMWATCH_UP_LABEL_STUDIO, HARMWATCH_UP_DASHBOARD (False: leave that
#   server out): see devstack/config.py
#
# Each server runs in its own process group; its PID goes to $HARMWATCH_HOME/run/<name>.pid and its
# output to $HARMWATCH_HOME/run/logs/<name>.log. scripts/down.sh stops exactly these, by PID.
# Airflow asks for a login: user admin, password generated once into
# $HARMWATCH_HOME/run/airflow-admin-password.txt (and user reviewer, role User, for approvals). MLflow runs the basic-auth app on the demo's store
# (devstack/mlflow.py): user admin, password in $HARMWATCH_HOME/run/mlflow-admin-password.txt; the steps
# Airflow runs authenticate as the non-admin user harmwatch-pipeline. Runs start when triggered (schedules
# off unless HARMWATCH_AIRFLOW_SCHEDULES=True). If the landing zone is empty it is seeded with
# `harmwatch simulate`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/.venv/bin"
cd "$REPO"
# The embedded Airflow's environment and the stack's settings (ports, schedules), resolved once in Python.
eval "$("$BIN/python" -m devstack.airflow env)"
AIRFLOW_PORT="$HARMWATCH_AIRFLOW_PORT"
MLFLOW_PORT="$HARMWATCH_MLFLOW_PORT"
LABEL_STUDIO_PORT="$HARMWATCH_LABEL_STUDIO_PORT"
RUN="$HARMWATCH_HOME/run"
LOGS="$RUN/logs"
mkdir -p "$LOGS"

die() { echo "make up: $*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1" | cut -d' ' -f1)" 2>/dev/null; }

port_busy() {
  "$BIN/python" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

for f in "$RUN"/*.pid; do
  [ -e "$f" ] || continue
  alive "$f" && die "already running ($(basename "$f" .pid), PID $(cut -d' ' -f1 "$f")); run make down first"
  rm -f "$f"
done
port_busy "$AIRFLOW_PORT" && die "port $AIRFLOW_PORT is in use; set HARMWATCH_AIRFLOW_PORT"
port_busy "$MLFLOW_PORT" && die "port $MLFLOW_PORT is in use; set HARMWATCH_MLFLOW_PORT"
on() { [[ "${1,,}" =~ ^(1|true|yes)$ ]]; }
if on "$HARMWATCH_UP_LABEL_STUDIO"; then
  port_busy "$LABEL_STUDIO_PORT" && die "port $LABEL_STUDIO_PORT is in use; set HARMWATCH_LABEL_STUDIO_PORT"
fi

# On a laptop the schedules would start runs for today's date on the demo's simulated days; runs
# start when you trigger them (the scheduler and executor still run them). HARMWATCH_AIRFLOW_SCHEDULES=True
# turns the daily schedules on.
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="$HARMWATCH_AIRFLOW_SCHEDULES"
SETTINGS="$("$BIN/harmwatch" info --json 2>/dev/null | tail -n1)"
setting() { "$BIN/python" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$SETTINGS" "$1"; }
LANDING="$(setting landing_uri)"
TRACKING="$(setting mlflow_tracking_uri)"
ARTIFACTS="$(setting mlflow_artifact_uri)"

if [[ "$LANDING" != s3://* ]] && [ -z "$(find "$LANDING" -type f -name '*.*' 2>/dev/null | head -n1)" ]; then
  echo "make up: landing zone $LANDING is empty; seeding it with harmwatch simulate" >&2
  "$BIN/harmwatch" simulate >"$LOGS/simulate.log" 2>&1 || die "harmwatch simulate failed; see $LOGS/simulate.log"
fi

echo "make up: migrating the Airflow metadata DB ($AIRFLOW_HOME/airflow.db)" >&2
"$BIN/airflow" db migrate >"$LOGS/airflow-db-migrate.log" 2>&1 || die "airflow db migrate failed; see $LOGS/airflow-db-migrate.log"
if [[ "$TRACKING" == sqlite:///* ]]; then mkdir -p "$(dirname "${TRACKING#sqlite:///}")"; fi
mkdir -p "$ARTIFACTS"

# start NAME CMD...: own session (so its PID is its process group), PID and PGID in run/NAME.pid.
start() {
  local name="$1"; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid $(ps -o pgid= -p "$pid" | tr -d ' ')" >"$RUN/$name.pid"
}

wait_http() {  # wait_http NAME URL: until it answers, or the process died, or 180 s passed
  local name="$1" url="$2" deadline=$((SECONDS + 180))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    alive "$RUN/$name.pid" || { "$REPO/scripts/down.sh" >/dev/null 2>&1 || true; die "$name exited; see $LOGS/$name.log"; }
    [ "$SECONDS" -lt "$deadline" ] || { "$REPO/scripts/down.sh" >/dev/null 2>&1 || true; die "$name did not answer $url in 180 s; see $LOGS/$name.log"; }
    sleep 1
  done
}
# MLflow first (basic-auth on the demo's store; its secrets reach it through its environment, never a
# command line), then the pipeline user and its permissions, then Airflow, whose steps use that user.
start mlflow "$BIN/python" -m devstack.mlflow serve --tracking-uri "$TRACKING" --artifacts "$ARTIFACTS"
wait_http mlflow "http://127.0.0.1:$MLFLOW_PORT/health"
"$BIN/python" -m devstack.mlflow grant >"$LOGS/mlflow-access.log" 2>&1 \
  || { "$REPO/scripts/down.sh" >/dev/null 2>&1 || true; die "granting the pipeline's MLflow access failed; see $LOGS/mlflow-access.log"; }
eval "$("$BIN/python" -m devstack.mlflow env)"

# Label Studio records its own PID (run/labelstudio.pid) and, once it answers, the accounts and their
# personal access tokens (run/labelstudio.json, mode 0600; the steps' settings fall back to it).
LABEL_STUDIO_LINE="not started (HARMWATCH_UP_LABEL_STUDIO=$HARMWATCH_UP_LABEL_STUDIO)"
if on "$HARMWATCH_UP_LABEL_STUDIO"; then
  "$BIN/python" -m devstack.labelstudio start >"$LOGS/labelstudio-start.log" 2>&1 \
    || { "$REPO/scripts/down.sh" >/dev/null 2>&1 || true; die "Label Studio did not start; see $LOGS/labelstudio-start.log and $LOGS/labelstudio.log"; }

  # The demo's review queue goes to the moderators: the newest queue, whole, highest expected value
  # first (harmwatch review-push; a text already in Label Studio is never sent again). A failed push
  # leaves the stack up and says where to look.
  "$BIN/python" -m devstack.labelstudio push >"$LOGS/review-push.log" 2>&1 \
    || echo "make up: the review queue was not pushed to Label Studio; see $LOGS/review-push.log" >&2
  LABEL_STUDIO_LINE="http://127.0.0.1:$LABEL_STUDIO_PORT   review queue; accounts and passwords in
           $RUN/labelstudio.json (admin@harmwatch.local, moderator-N@harmwatch.local)"
fi

start airflow-api-server "$BIN/airflow" api-server --host 127.0.0.1 --port "$AIRFLOW_PORT" --workers 1
start airflow-scheduler "$BIN/airflow" scheduler
start airflow-dag-processor "$BIN/airflow" dag-processor
wait_http airflow-api-server "http://127.0.0.1:$AIRFLOW_PORT/api/v2/monitor/health"

# The platform over time (devstack/dashboard.py): an Evidently workspace rebuilt from what the lake,
# the reports and MLflow hold (moderation metrics, drift, the review queue, each day's champion), then
# `evidently ui` on it. A failed build leaves the rest of the stack up and says where to look.
DASHBOARD_PORT="$HARMWATCH_DASHBOARD_PORT"
DASHBOARD_LINE="not started: port $DASHBOARD_PORT is in use (set HARMWATCH_DASHBOARD_PORT)"
if ! on "$HARMWATCH_UP_DASHBOARD"; then
  DASHBOARD_LINE="not started (HARMWATCH_UP_DASHBOARD=$HARMWATCH_UP_DASHBOARD)"
elif ! port_busy "$DASHBOARD_PORT"; then
  if "$BIN/python" -m devstack.dashboard build >"$LOGS/dashboard-build.log" 2>&1; then
    start dashboard "$BIN/python" -m devstack.dashboard serve --port "$DASHBOARD_PORT"
    wait_http dashboard "http://127.0.0.1:$DASHBOARD_PORT/api/projects"
    DASHBOARD_LINE="http://127.0.0.1:$DASHBOARD_PORT   moderation, drift, review queue, champions by day"
  else
    DASHBOARD_LINE="not started: the build failed; see $LOGS/dashboard-build.log"
  fi
fi

cat <<EOF
harmwatch is up (state: $HARMWATCH_HOME)
  Airflow  http://127.0.0.1:$AIRFLOW_PORT   user admin, password: $(cat "$RUN/airflow-admin-password.txt")
           (kept in $RUN/airflow-admin-password.txt); trigger harmful_content_retrain from the UI
           user reviewer (answers approvals, no admin rights): $RUN/airflow-reviewer-password.txt
           (schedules are off: HARMWATCH_AIRFLOW_SCHEDULES=True turns them on)
  MLflow   http://127.0.0.1:$MLFLOW_PORT/#/models/$(setting model_name)?workflowType=machine_learning
           user admin, password: $(cat "$RUN/mlflow-admin-password.txt")
           (kept in $RUN/mlflow-admin-password.txt); registered model $(setting model_name)
           (aliases champion, challenger; the link opens MLflow's model-training view, not GenAI);
           the steps sign in as harmwatch-pipeline (non-admin)
  Label Studio $LABEL_STUDIO_LINE
  Dashboard $DASHBOARD_LINE
  logs     $LOGS/
stop with: make down
EOF
