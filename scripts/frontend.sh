#!/usr/bin/env bash
# Builds the web UI under flow_web/frontend with the project's own npm packages:
#   frontend.sh [build]   npm ci (when package-lock.json changed), then npm run build
#                         (when a source file changed) into flow_web/frontend/dist
#   frontend.sh test      npm ci when needed, then the Vitest suites (npm test)
# Idempotent: a stamp named after package-lock.json's hash records the install, one
# named after the sources' hash records the build, so a second run does nothing.
source "$(dirname "$0")/lib.sh"
lock frontend

FRONTEND="$REPO_ROOT/flow_web/frontend"
DIST="$FRONTEND/dist"
MIN_NODE="20.19.0"
# npm talks to its registry only for packages; no update checks, funding or audit calls.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

version_at_least() {
  # version_at_least HAVE WANT: HAVE >= WANT for dotted versions.
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

check_node() {
  need_command node "Node.js $MIN_NODE or newer (with npm) builds the web UI; Debian 12's own nodejs is too old, use NodeSource's nodejs package."
  need_command npm "npm comes with Node.js; install it with nodejs."
  local have
  have="$(node --version)"
  have="${have#v}"
  version_at_least "$have" "$MIN_NODE" || die "Node.js $MIN_NODE or newer builds the web UI; this is $have"
}

install_packages() {
  local stamp
  stamp="$FRONTEND/node_modules/.dataflow-installed-$(sha256sum "$FRONTEND/package-lock.json" | cut -c1-16)"
  if [ -f "$stamp" ]; then
    note "frontend: node_modules is up to date with package-lock.json"
    return
  fi
  log "frontend: npm ci (the web UI's packages, about half a minute the first time)"
  local npm_log="$LOG_DIR/npm-ci.log"
  if ! (cd "$FRONTEND" && npm ci --no-audit --no-fund) >"$npm_log" 2>&1; then
    tail -n 30 "$npm_log" >&2
    die "npm ci failed; the whole log is in $npm_log"
  fi
  touch "$stamp"
  note "frontend: packages installed"
}

sources_hash() {
  (
    cd "$FRONTEND"
    find src index.html package.json package-lock.json tsconfig.json vite.config.ts -type f -print0 2>/dev/null \
      | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

build() {
  local stamp_name
  stamp_name=".dataflow-built-$(sources_hash)"
  if [ -f "$DIST/$stamp_name" ] && [ -f "$DIST/index.html" ]; then
    note "frontend: flow_web/frontend/dist is up to date with the sources"
    return
  fi
  log "frontend: building the web UI (TypeScript check and Vite bundle)"
  local build_log="$LOG_DIR/frontend-build.log" next="$FRONTEND/dist.next"
  rm -rf "$next"
  if ! (cd "$FRONTEND" && npm run build -- --outDir dist.next) >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    rm -rf "$next"
    die "the web UI did not build; the whole log is in $build_log"
  fi
  touch "$next/$stamp_name"
  # Swap the new bundle in whole, so a running flow_web never serves half of one.
  rm -rf "$DIST.old"
  [ ! -d "$DIST" ] || mv "$DIST" "$DIST.old"
  mv "$next" "$DIST"
  rm -rf "$DIST.old"
  note "frontend: built into flow_web/frontend/dist"
}

run_tests() {
  log "frontend: unit tests (Vitest)"
  (cd "$FRONTEND" && npm test --silent)
}

check_node
case "${1:-build}" in
  build)
    install_packages
    build
    ;;
  test)
    install_packages
    run_tests
    ;;
  *)
    echo "usage: $0 [build|test]" >&2
    exit 2
    ;;
esac
