#!/usr/bin/env bash
# Creates .venv and installs the project with its development extras, once per pyproject.toml.
source "$(dirname "$0")/lib.sh"

PYTHON="${PYTHON:-python3}"
stamp_name=".installed-$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -c1-16)"
if [ -f "$VENV/$stamp_name" ] && [ -x "$VENV/bin/python" ]; then
  info "python: .venv is up to date"
  exit 0
fi
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || fail "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))"
if [ ! -x "$VENV/bin/python" ]; then
  step "python: creating .venv"
  "$PYTHON" -m venv "$VENV"
fi
step "python: installing the project and its dependencies into .venv"
pip_log="$LOG_DIR/pip-install.log"
if ! { "$VENV/bin/pip" install --upgrade pip && "$VENV/bin/pip" install -e "$REPO_ROOT[dev]"; } >"$pip_log" 2>&1; then
  tail -n 30 "$pip_log" >&2
  fail "pip install failed; the whole log is in $pip_log"
fi
rm -f "$VENV"/.installed-*
touch "$VENV/$stamp_name"
info "python: done"
