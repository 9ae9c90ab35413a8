#!/usr/bin/env bash
# Install gitlab-ci-local (pinned) into .harmwatch/tools/, plus Debian's rsync if it is missing.
#
# gitlab-ci-local parses .gitlab-ci.yml the way GitLab does (includes, rules, needs) and lists
# the jobs; the deploy tests use `gitlab-ci-local --list`. It needs Node >= 18 and rsync.
# Idempotent: a second run with the right version installed does nothing.
#
# Usage: scripts/install-gitlab-ci-local.sh   (prints the path of the gitlab-ci-local binary last)
set -euo pipefail

version="4.72.0"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${HARMWATCH_TOOLS_DIR:-${repo_root}/.harmwatch/tools}"
bin="${prefix}/node_modules/.bin/gitlab-ci-local"

if ! command -v rsync >/dev/null 2>&1; then
    echo "install-gitlab-ci-local: installing rsync with apt-get" >&2
    sudo_cmd=()
    if [[ "$(id -u)" != "0" ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends rsync >&2
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install-gitlab-ci-local: npm not found; install Node.js >= 18 (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi

installed=""
if [[ -f "${prefix}/node_modules/gitlab-ci-local/package.json" ]]; then
    installed="$(node -p "require('${prefix}/node_modules/gitlab-ci-local/package.json').version")"
fi

if [[ "${installed}" != "${version}" || ! -x "${bin}" ]]; then
    echo "install-gitlab-ci-local: installing gitlab-ci-local@${version} into ${prefix}" >&2
    mkdir -p "${prefix}"
    npm install --prefix "${prefix}" --no-save --no-audit --no-fund --loglevel=error \
        "gitlab-ci-local@${version}" >&2
fi

echo "${bin}"
