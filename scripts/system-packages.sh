#!/usr/bin/env bash
# Installs the Debian packages the platform needs, only those that are missing:
# OCR (tesseract), PostgreSQL for the SQL connection tests, Chromium for the UI
# tests, and Java and Maven for Kafka when no `java` / `mvn` is on the PATH.
# Go (1.24 or newer, for building FerretDB) is not in Debian's stable packages
# in a recent enough version; ferretdb.sh says so when it is missing.
source "$(dirname "$0")/lib.sh"
lock system-packages

PACKAGES=(tesseract-ocr tesseract-ocr-eng postgresql chromium)
command -v java >/dev/null 2>&1 || PACKAGES+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || PACKAGES+=(maven)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v dpkg-query >/dev/null 2>&1 || die "this script installs Debian packages; on another system install: ${PACKAGES[*]}"

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  note "debian packages: all present (${PACKAGES[*]})"
  exit 0
fi

if ! is_root; then
  printf 'error: missing Debian packages: %s\n' "${missing[*]}" >&2
  printf 'Install them as root, then run this again:\n' >&2
  printf '    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
  exit 1
fi

log "debian packages: installing ${missing[*]} (a few minutes the first time)"
export DEBIAN_FRONTEND=noninteractive
apt_log="$LOG_DIR/apt-install.log"
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
  tail -n 30 "$apt_log" >&2
  die "apt-get failed; the whole log is in $apt_log"
fi
note "debian packages: installed ${missing[*]}"
