#!/usr/bin/env bash
# critest.sh — run Kubernetes' CRI validation suite (critest, cri-tools v1.29.0) against a private
# gantry-containerd, offline.
#
# Usage: tools/critest.sh [critest flags...]      (e.g. -ginkgo.focus='PodSandbox')
#
#   CRITEST_BIN  directory holding critest and crictl (default /tmp/cri-tools-bin; build them with
#                /work/shared/cri/build-critest.sh, see packages/containerd/README.md)
#   BASE         working directory (default /tmp/critest-gantry): socket, root, state, CNI config,
#                daemon log
#   SKIP         ginkgo skip regex (default: see below)
#   CRITEST_REGISTRY=0  do not serve the test images (default: served when docker-registry and
#                skopeo are installed)
#
# critest's test images (nginx, httpd, nonewprivs, the cri-tools test-image-* ones) are made offline
# by tools/critest-images.py and pushed to a docker-registry on 127.0.0.1:5000 inside the daemon's
# network namespace; the config's registry mirrors send registry.k8s.io, gcr.io and docker.io
# there. Skipped then: the pull by digest (its manifest digest cannot be reproduced offline) and
# MaskedPaths (Debian's busybox shell runs `ls` as a built-in, so masking /bin/ls shows nothing).
# Without docker-registry or skopeo, the specs that need those images are skipped too, as in
# containerd's reference run; without gcc (which builds the nonewprivs image), the NoNewPrivs ones.
#
# gantry-containerd runs in private mount, network and IPC namespaces (as the containerd reference
# script does), so the CNI bridge, host ports, iptables rules and critest's SysV IPC objects stay
# there; critest runs inside them through nsenter. Needs root, `npm run build`, python3, busybox-static.
# Exits with critest's status; when critest is missing, says so and exits 2.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
bin="${CRITEST_BIN:-/tmp/cri-tools-bin}"
base="${BASE:-/tmp/critest-gantry}"
offline_skip='Image Manager|port mapping|Multiple Containers|portforward|HostPID|PodPID|ContainerPID|NoNewPrivs|SupplementalGroups|MaskedPaths'
registry_skip='public image with digest should be pulled and removed|MaskedPaths'
serve=0
if [ "${CRITEST_REGISTRY:-1}" != 0 ]; then
  if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
    serve=1
  else
    echo "critest.sh: no docker-registry or skopeo: the specs that need critest's test images are skipped" >&2
  fi
fi
if [ "$serve" = 1 ] && ! command -v gcc >/dev/null; then
  echo "critest.sh: no gcc for the nonewprivs image: the NoNewPrivs specs are skipped" >&2
  registry_skip="$registry_skip|NoNewPrivs"
fi
if [ "$serve" = 1 ]; then skip="${SKIP:-$registry_skip}"; else skip="${SKIP:-$offline_skip}"; fi
mkimage="${MKIMAGE:-/work/shared/cri/mkimage.py}"

[ -x "$bin/critest" ] || { echo "critest.sh: no critest in $bin (build it with build-critest.sh)" >&2; exit 2; }
[ -f "$mkimage" ] || { echo "critest.sh: $mkimage missing" >&2; exit 2; }

sock="$base/c.sock"
pidf="$base/daemon.pid"
rm -rf "$base"
mkdir -p "$base"/{net.d,ipam,images,logs}

cat > "$base/net.d/10-critest.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "critest-net",
  "plugins": [
    { "type": "bridge", "bridge": "critest0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$base/ipam",
                "ranges": [[{ "subnet": "10.99.0.0/16" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } } ] }
EOF
cat > "$base/config.toml" <<EOF
[cri]
cni_conf_dir = "$base/net.d"
state_dir = "$base/cri"
cgroup_parent = "/critest-gantry"
EOF
if [ "$serve" = 1 ]; then
  for domain in docker.io registry.k8s.io gcr.io; do
    printf '[cri.registry.mirrors."%s"]\nendpoints = ["http://127.0.0.1:5000"]\n' "$domain" >> "$base/config.toml"
  done
  python3 "$root/tools/critest-images.py" "$base/images/registry" >/dev/null
  mkdir -p "$base/registry"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n' \
    "$base/registry/data" > "$base/registry/config.yml"
fi

python3 "$mkimage" "$base/images/busybox.tar" registry.k8s.io/e2e-test-images/busybox:1.29-2 \
  '[]' '["sh"]' /usr/bin/busybox=/bin/busybox --busybox-links --etc >/dev/null

setsid unshare --mount --net --ipc --propagation private sh -c '
  set -e
  echo $$ > "'"$pidf"'"
  ip link set lo up
  exec "'"$root"'/bin/gantry-containerd" --address "'"$sock"'" --root "'"$base"'/root" --state "'"$base"'/state" --config "'"$base"'/config.toml"
' > "$base/daemon.log" 2>&1 < /dev/null &

stop() {
  local pid
  pid="$(cat "$pidf" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  # the shims this daemon started run in its namespaces: stop them by pid, then the daemon
  local mnt
  mnt="$(readlink "/proc/$pid/ns/mnt" 2>/dev/null || true)"
  kill "$pid" 2>/dev/null || true
  if [ -n "$mnt" ]; then
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
    done
  fi
}
trap stop EXIT

for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.2; done
[ -S "$sock" ] || { echo "critest.sh: gantry-containerd did not start; see $base/daemon.log" >&2; exit 1; }
ctr -a "$sock" -n k8s.io images import "$base/images/busybox.tar" >/dev/null

if [ "$serve" = 1 ]; then
  # in the daemon's mount and network namespaces: stop() ends it with the shims
  (nsenter -t "$(cat "$pidf")" -m -n -- docker-registry serve "$base/registry/config.yml" > "$base/registry/log" 2>&1 < /dev/null &)
  for _ in $(seq 100); do
    nsenter -t "$(cat "$pidf")" -n -- bash -c 'echo > /dev/tcp/127.0.0.1/5000' 2>/dev/null && break
    sleep 0.2
  done
  while read -r archive ref; do
    nsenter -t "$(cat "$pidf")" -n -- skopeo copy -q --dest-tls-verify=false "docker-archive:$archive" "docker://127.0.0.1:5000/$ref" > /dev/null \
      || { echo "critest.sh: pushing $ref failed; see $base/registry/log" >&2; exit 1; }
  done < "$base/images/registry/images.txt"
fi

set +e
nsenter -t "$(cat "$pidf")" -m -n -i -- "$bin/critest" -runtime-endpoint "unix://$sock" -image-endpoint "unix://$sock" \
  -ginkgo.skip="$skip" "$@"
status=$?
set -e
exit "$status"
