#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages R Bridge needs, only those missing.
#
#   install-system.sh [--runtime] [--print] [EXTRA_PACKAGE ...]
#
# The R packages come from deploy/r-packages.txt and, when present,
# deploy/r-packages.extra.txt (what a models folder needs beyond them:
# `python -m bridge requirements --format debian > deploy/r-packages.extra.txt`).
# --print lists the packages that would be installed and installs nothing.
# Without --runtime, the
# packages that build rpy2 (a compiler, R's headers) are added: `make` needs
# them for its virtualenv, the image only in its builder stage. Used by the
# Makefile and by Dockerfile.r-py, so both install the same R.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LISTS=("$HERE/r-packages.txt")
[ -f "$HERE/r-packages.extra.txt" ] && LISTS+=("$HERE/r-packages.extra.txt")
mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "${LISTS[@]}")

RUNTIME=0
if [ "${1:-}" = "--runtime" ]; then
  RUNTIME=1
  shift
fi
if [ "$RUNTIME" -eq 0 ]; then
  # building rpy2
  PACKAGES+=(r-base-dev gcc libffi-dev)
  python3 -c 'import ensurepip, venv' 2>/dev/null || PACKAGES+=(python3-venv python3-dev)
fi
PRINT=0
if [ "${1:-}" = "--print" ]; then
  PRINT=1
  shift
fi
PACKAGES+=("$@")
if [ "$PRINT" -eq 1 ]; then
  printf '%s\n' "${PACKAGES[@]}" | awk '!seen[$0]++'
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
