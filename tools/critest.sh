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
#   SKIP         ginkgo skip regex (default: the specs that need images not available offline, as
#                in containerd's reference run)
#
# gantry-containerd runs in private mount, network and IPC namespaces (as the containerd reference
# script does), so the CNI bridge, host ports, iptables rules and critest's SysV IPC objects stay
# there; critest runs inside them through nsenter. Needs root, `npm run build`, python3, busybox-static.
# Exits with critest's status; when critest is missing, says so and exits 2.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
bin="${CRITEST_BIN:-/tmp/cri-tools-bin}"
base="${BASE:-/tmp/critest-gantry}"
skip="${SKIP:-Image Manager|port mapping|Multiple Containers|portforward|HostPID|PodPID|ContainerPID|NoNewPrivs|SupplementalGroups|MaskedPaths}"
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

set +e
nsenter -t "$(cat "$pidf")" -m -n -i -- "$bin/critest" -runtime-endpoint "unix://$sock" -image-endpoint "unix://$sock" \
  -ginkgo.skip="$skip" "$@"
status=$?
set -e
exit "$status"
