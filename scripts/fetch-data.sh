#!/usr/bin/env bash
# Put the shared data (data/ and schemas/) where the tests look for it, on machines that do not have it
# beside the checkout, such as a GitLab runner.
#
# The tests read $HARMWATCH_SHARED_DIR (default: ../shared beside the checkout). When
# $HARMWATCH_SHARED_DIR/data/cyberbullying_tweets.csv is already there, this does nothing. Otherwise it
# downloads $HARMWATCH_DATA_URL, a .tar.gz holding data/ and schemas/ at its top level, checks it
# against $HARMWATCH_DATA_SHA256 and unpacks it into $HARMWATCH_SHARED_DIR.
#
# Make the archive from a machine that has the data:
#   tar -czf harmwatch-shared.tar.gz -C ../shared data schemas && sha256sum harmwatch-shared.tar.gz
# and set HARMWATCH_DATA_URL and HARMWATCH_DATA_SHA256 as CI/CD variables (docs/deploy.md).
#
# Usage: scripts/fetch-data.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${HARMWATCH_SHARED_DIR:-${repo_root}/../shared}"

if [[ -f "${shared}/data/cyberbullying_tweets.csv" ]]; then
    echo "fetch-data: data already in ${shared}"
    exit 0
fi
if [[ -z "${HARMWATCH_DATA_URL:-}" || -z "${HARMWATCH_DATA_SHA256:-}" ]]; then
    echo "fetch-data: no data in ${shared}/data; set HARMWATCH_DATA_URL and HARMWATCH_DATA_SHA256" \
        "(a .tar.gz of data/ and schemas/ and its sha256) or HARMWATCH_SHARED_DIR" >&2
    exit 1
fi

archive="$(mktemp "${TMPDIR:-/tmp}/harmwatch-shared.XXXXXX.tar.gz")"
trap 'rm -f "${archive}"' EXIT
# The URL may carry a token (a pre-signed URL): never print it.
echo "fetch-data: downloading the shared data archive"
curl --fail --silent --show-error --location --retry 3 --output "${archive}" "${HARMWATCH_DATA_URL}"
actual="$(sha256sum "${archive}" | cut -d' ' -f1)"
if [[ "${actual}" != "${HARMWATCH_DATA_SHA256}" ]]; then
    echo "fetch-data: ${HARMWATCH_DATA_URL%%\?*}: sha256 ${actual}, expected ${HARMWATCH_DATA_SHA256}" >&2
    exit 1
fi
mkdir -p "${shared}"
tar -xzf "${archive}" -C "${shared}" data schemas
echo "fetch-data: data and schemas unpacked into ${shared}"
