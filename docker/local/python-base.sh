#!/usr/bin/env bash
# Build a local stand-in for the official `python:3.12-slim-bookworm` base image, without a registry.
#
# Where no container registry can be reached, `make images` builds the images FROM this instead.
# Same shape as far as docker/job.Dockerfile relies on it: Debian bookworm, CPython 3.12 in /usr/local
# (python3.12, python3, python, pip), the runtime libraries it links against, ca-certificates,
# groupadd/useradd, PATH and LANG as in the official image.
#
#   1. `debootstrap --variant=minbase bookworm` with the runtime libraries of CPython's extension
#      modules (the official image installs the same set).
#   2. CPython 3.12 copied from a local installation (PYTHON_PREFIX, e.g. a pyenv build) into
#      /usr/local: without its test suite, tkinter/IDLE, static library and any site-packages
#      other than pip; paths that name the old prefix are rewritten to /usr/local.
#   3. The CA certificates this machine adds to Debian's (/usr/local/share/ca-certificates), and a
#      pip.conf that makes pip use the system trust store, so builds reach PyPI the way this host does.
#   4. `podman import` with the official image's PATH, LANG and CMD.
#
# Usage: docker/local/python-base.sh PYTHON_PREFIX IMAGE_TAG
# Needs root, debootstrap and podman. Takes about a minute on a quiet machine (most of it debootstrap).
set -euo pipefail

prefix="${1:?usage: python-base.sh PYTHON_PREFIX IMAGE_TAG}"
tag="${2:?usage: python-base.sh PYTHON_PREFIX IMAGE_TAG}"
mirror="${HARMWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Runtime libraries of CPython's extension modules (ssl, sqlite3, ctypes, lzma, bz2, readline,
# curses, uuid, nis, ...), plus what every Debian-based Python image carries.
packages="ca-certificates,netbase,tzdata,libssl3,libsqlite3-0,libffi8,libbz2-1.0,liblzma5,zlib1g"
packages+=",libreadline8,libncursesw6,libuuid1,libexpat1,libnsl2,libtirpc3,libgssapi-krb5-2"

version="$("${prefix}/bin/python3" -c 'import platform; print(platform.python_version())')"
[[ "${version}" == 3.12.* ]] || { echo "python-base: ${prefix} is Python ${version}, not 3.12" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/var/tmp}/harmwatch-python-base.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
root="${work}/rootfs"

echo "python-base: debootstrap bookworm (${mirror})" >&2
debootstrap --variant=minbase --include="${packages}" bookworm "${root}" "${mirror}" >"${work}/debootstrap.log" 2>&1 \
    || { tail -20 "${work}/debootstrap.log" >&2; exit 1; }

echo "python-base: CPython ${version} from ${prefix} into /usr/local" >&2
tar -C "${prefix}" -c \
    --exclude='lib/python3.12/test' --exclude='lib/python3.12/idlelib' \
    --exclude='lib/python3.12/tkinter' --exclude='lib/python3.12/turtledemo' \
    --exclude='lib/python3.12/lib-dynload/_tkinter*' --exclude='lib/python3.12/lib-dynload/_test*' \
    --exclude='lib/python3.12/lib-dynload/_ctypes_test*' --exclude='lib/python3.12/lib-dynload/xxlimited*' \
    --exclude='lib/python3.12/config-3.12-*/*.a' --exclude='lib/python3.12/site-packages/*' \
    --exclude='bin/idle*' bin include lib share | tar -C "${root}/usr/local" -x
(cd "${prefix}/lib/python3.12/site-packages" && tar -c --exclude='__pycache__' pip pip-*.dist-info) \
    | tar -C "${root}/usr/local/lib/python3.12/site-packages" -x
# Shebangs, sysconfig data, python3.12-config and pkg-config files name the old prefix.
grep -rlI --null -F "${prefix}" "${root}/usr/local" | xargs -0 -r sed -i "s|${prefix}|/usr/local|g"
rm -rf "${root}/usr/local/share/man"
ln -sf python3 "${root}/usr/local/bin/python"
ln -sf pip3 "${root}/usr/local/bin/pip"

if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "${root}/usr/local/share/ca-certificates/"
fi
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"${root}/etc/pip.conf"

chroot "${root}" /bin/sh -c 'ldconfig && update-ca-certificates >/dev/null'
chroot "${root}" /usr/local/bin/python3 -c \
    'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid, decimal, hashlib, pyexpat, venv, pip'
# Keep the image lean: no apt lists, caches or logs.
rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/*.bin "${root}"/var/log/* "${root}/debootstrap"

echo "python-base: podman import ${tag}" >&2
tar -C "${root}" -c . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PYTHON_VERSION=${version}" \
    --change 'CMD ["python3"]' \
    --quiet --message "debootstrap bookworm minbase + CPython ${version}" \
    - "${tag}" >/dev/null
echo "${tag}"
