#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages R Bridge needs, only those missing.
# Used by the Makefile and by Dockerfile.r-py, so both install the same way.
set -euo pipefail

PACKAGES=(
  r-base-core r-base-dev r-cran-jsonlite
  # model classes served out of the box
  r-cran-randomforest r-cran-ranger r-cran-rpart r-cran-e1071 r-cran-mgcv
  r-cran-gbm r-cran-glmnet r-cran-caret r-cran-nnet
  # the wider model matrix (issue 11) and forecasting (issue 14)
  r-cran-mass r-cran-survival r-cran-nlme r-cran-lme4 r-cran-kernlab r-cran-earth
  r-cran-partykit r-cran-pls r-cran-quantreg r-cran-pscl r-cran-ordinal r-cran-forecast
  r-cran-ipred
  # Plumber's async endpoints
  r-cran-later r-cran-promises
  # the benchmark and the Plumber comparison
  r-cran-plumber
  # Plumber's csv and tsv serializers (plumber.R files the bridge serves)
  r-cran-readr
  # Plumber's session cookies (pr_cookie) and its example 07-mailgun, both in
  # the differential tests over Plumber's own examples
  r-cran-base64enc r-cran-htmltools
  # building rpy2
  gcc libffi-dev
)
python3 -c 'import ensurepip, venv' 2>/dev/null || PACKAGES+=(python3-venv python3-dev)
PACKAGES+=("$@")

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
