#!/usr/bin/env bash
# Installs the Debian packages the platform needs, only those missing.
source "$(dirname "$0")/lib.sh"

PACKAGES=(tesseract-ocr tesseract-ocr-eng postgresql chromium)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  info "debian packages: all present (${PACKAGES[*]})"
  exit 0
fi
if ! is_root; then
  fail "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
fi
step "debian packages: installing ${missing[*]} (a few minutes the first time)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
info "debian packages: installed ${missing[*]}"
