#!/usr/bin/env bash
# Install the Debian packages the tests need, only those missing (CI machines start bare).
#   rsync          gitlab-ci-local (tests/deploy)
#   chromium       browser tests (Airflow/MLflow UIs, HTML reports escaping)
#   postgresql     production-backend integration test
#   openjdk-17-jre-headless   the Spark engine (PySpark runs on a Java 17+ runtime)
#   prometheus     promtool: checks and unit-tests the chart's alert rules (tests/deploy/test_alert_rules.py)
#   podman runc catatonit debootstrap
#                  make images and the step pods (tests/pods): Podman 4.3 with runc, catatonit for
#                  the pods' infra container, debootstrap for the local base image
set -euo pipefail
# With arguments, only those packages (make demo asks for the Java runtime alone).
want=(rsync chromium postgresql openjdk-17-jre-headless prometheus podman runc catatonit debootstrap)
[ $# -gt 0 ] && want=("$@")
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Another install may hold the dpkg lock (a shared machine, CI's image build): wait for it.
LOCK=(-o DPkg::Lock::Timeout=300)
$SUDO apt-get "${LOCK[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${LOCK[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster on install; the tests run their own servers on private ports.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
  $SUDO pg_ctlcluster --mode fast 15 main stop 2>/dev/null || true
fi
