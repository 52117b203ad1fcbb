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
gantryd_pid=
cleanup() {
  if [ -n "$gantryd_pid" ]; then
    GANTRY_HOST=unix://$work/g.sock bin/gantry rm -f qs-web >/dev/null 2>&1 || true
    kill "$gantryd_pid" 2>/dev/null || true
    wait "$gantryd_pid" 2>/dev/null || true
    grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
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

step "The whole stack: gantryd (with its gantry-containerd and shims) driven by the gantry CLI"
bin/gantryd -H "unix://$work/g.sock" --data-root "$work/data" --exec-root "$work/run" >"$work/gantryd.log" 2>&1 &
gantryd_pid=$!
export GANTRY_HOST=unix://$work/g.sock GANTRY_CONFIG=$work/gantry-cli
export DOCKER_HOST=unix://$work/g.sock DOCKER_CONFIG=$work/docker-cli DOCKER_CLI_HINTS=false
for _ in $(seq 100); do bin/gantry version >/dev/null 2>&1 && break; sleep 0.1; done
tools/make-busybox-bundle.sh "$work/img" --docker-archive "$work/busybox.tar" --name busybox:latest >/dev/null
bin/gantry load -i "$work/busybox.tar"
bin/gantry run --rm busybox sh -c 'echo Hello from gantryd: $(hostname), $(ip -4 -o addr show eth0 2>/dev/null | awk "{print \$4}")'
bin/gantry run -d --name qs-web -p 127.0.0.1:18080:80 busybox httpd -f -p 80 -h /etc >/dev/null
bin/gantry ps
printf 'GET /hostname through a published port: '
answered=
for _ in $(seq 50); do
  if busybox wget -qO- http://127.0.0.1:18080/hostname 2>/dev/null; then answered=1; break; fi
  sleep 0.1
done
[ -n "$answered" ] || echo '(no answer)'
echo "The docker CLI drives the same daemon (DOCKER_HOST=$DOCKER_HOST):"
docker ps --format '{{.Names}} {{.Image}} {{.Status}}'
bin/gantry rm -f qs-web >/dev/null

step "Done. Run the test suite with: npm test"
