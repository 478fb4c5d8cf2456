#!/usr/bin/env bash
# Creates .venv and installs the project with its development extras into it.
# Idempotent: a stamp file named after pyproject.toml's hash records a finished
# install, so a second run installs nothing until pyproject.toml changes.
source "$(dirname "$0")/lib.sh"
lock python-env

PYTHON="${PYTHON:-python3}"
MIN_PYTHON="3.11"

stamp="$VENV/.installed-$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -c1-16)"
if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  note "python: .venv is up to date with pyproject.toml"
  exit 0
fi

need_command "$PYTHON" "Python $MIN_PYTHON or newer is needed (set PYTHON=/path/to/python3 to pick one)."
"$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" \
  || die "Python $MIN_PYTHON or newer is needed; $PYTHON is $("$PYTHON" --version 2>&1)"

pip_log="$LOG_DIR/pip-install.log"
if [ ! -x "$VENV/bin/python" ]; then
  log "python: creating .venv"
  "$PYTHON" -m venv "$VENV" >"$pip_log" 2>&1 || {
    cat "$pip_log" >&2
    die "could not create .venv (on Debian the python3-venv package provides venv)"
  }
fi

log "python: installing the project and its development tools into .venv (about a minute the first time)"
if ! {
  "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
    && "$VENV/bin/python" -m pip install --disable-pip-version-check -e "${REPO_ROOT}[dev]"
} >"$pip_log" 2>&1; then
  tail -n 30 "$pip_log" >&2
  die "pip install failed; the whole log is in $pip_log"
fi
rm -f "$VENV"/.installed-*
touch "$stamp"
note "python: .venv ready"
