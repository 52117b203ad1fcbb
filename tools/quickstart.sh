#!/usr/bin/env bash
# quickstart.sh — from a fresh Debian 12 machine (as root) to a container run by gantry-runtime:
#   1. install Debian and npm packages   (tools/install-deps.sh, npm ci)
#   2. build                             (npm run build)
#   3. make a busybox bundle in a temp dir (tools/make-busybox-bundle.sh)
#   4. `gantry-runtime run` a container that prints a greeting
#   5. `gantry-runtime run --detach` a second one, show its `state` and the `list`, then kill and
#      delete it
#
# Options (environment):
#   QUICKSTART_SKIP_INSTALL=1   skip steps 1 and 2 (already installed and built)
#   GANTRY_RUNTIME=/usr/sbin/runc  run steps 4-5 with another runc-compatible runtime
set -euo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runtime=${GANTRY_RUNTIME:-$repo/bin/gantry-runtime}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "quickstart: run as root (containers need it)" >&2
  exit 1
fi

cd "$repo"
if [ "${QUICKSTART_SKIP_INSTALL:-0}" != 1 ]; then
  step "Installing Debian packages"
  tools/install-deps.sh
  step "Installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  step "Building (npm run build)"
  npm run build
fi

work=$(mktemp -d /tmp/gantry-quickstart.XXXXXX)
root=$work/state
id_hello=quickstart-hello-$$
id_sleeper=quickstart-sleeper-$$
cleanup() {
  "$runtime" --root "$root" delete --force "$id_sleeper" >/dev/null 2>&1 || true
  "$runtime" --root "$root" delete --force "$id_hello" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "Making a busybox bundle in $work"
tools/make-busybox-bundle.sh "$work/hello" \
  --args "sh -c 'echo Hello from a Gantry container: hostname \$(hostname), pid \$\$, user \$(id -un)'"
tools/make-busybox-bundle.sh "$work/sleeper" --args 'sleep 300'

step "$runtime run $id_hello"
"$runtime" --root "$root" run --bundle "$work/hello" "$id_hello"

step "$runtime run --detach $id_sleeper, then state and list"
"$runtime" --root "$root" run --detach --bundle "$work/sleeper" "$id_sleeper" </dev/null >/dev/null 2>&1
printf '%s\n' "$("$runtime" --root "$root" state "$id_sleeper")"   # runc prints no final newline
"$runtime" --root "$root" list

step "kill and delete $id_sleeper"
"$runtime" --root "$root" kill "$id_sleeper" KILL
for _ in $(seq 50); do
  "$runtime" --root "$root" state "$id_sleeper" 2>/dev/null | grep -q '"status": *"stopped"' && break
  sleep 0.1
done
"$runtime" --root "$root" delete "$id_sleeper"
"$runtime" --root "$root" list

step "Done. Run the test suite with: npm test"
