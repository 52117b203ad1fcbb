#!/usr/bin/env bash
# install-deps.sh — install what Gantry needs on Debian 12 (run as root): the OCI/container tools
# the tests and tools drive, and Node.js >= 20 (checked; Debian 12 itself ships Node 18).
# Used by tools/quickstart.sh and .ci/run. Set GANTRY_SKIP_APT=1 to skip apt entirely.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (it uses apt-get)" >&2
  exit 1
fi

APT_PACKAGES=(
  runc containerd            # reference runtime and the daemon the e2e tests drive
  docker.io iptables         # dockerd + docker CLI for e2e/test/dockerd-runtime (a private dockerd, never the system one)
  busybox-static             # tools/make-busybox-bundle.sh: the whole rootfs
  tini                       # tini-static, which Debian links as /usr/bin/docker-init: gantryd's `run --init`
  skopeo umoci               # cross-check image formats
  libseccomp2                # seccomp filters (loaded through koffi)
  iproute2                   # network namespaces, veth, bridges
  hyperfine                  # start-up measurements
  protobuf-compiler libprotobuf-dev   # protoc and the google/protobuf well-known .proto files, for proto/
  docker-registry apache2-utils       # distribution 2.8 for registry tests; htpasswd for its basic auth
  containernetworking-plugins         # CNI bridge/host-local/loopback/portmap/firewall for container networks
  tmux                       # a real terminal for `docker run -it` e2e tests
  python3-docker             # the Docker SDK for Python, for e2e/test/python-sdk (a real SDK driving gantryd)
  docker-compose             # Compose v1 (1.29, Python, on the SDK above), for e2e/test/docker-compose (a second client)
  ca-certificates            # npm over https
  openssl                    # throw-away CAs and certificates for the TLS tests (packages/testkit/src/certs.ts)
  systemd                    # systemd-analyze verify and systemd-socket-activate for tools/install.sh's units (e2e/test/install); not run as init
  tar coreutils findutils util-linux   # bundle/archive building, umount
)

node_ok() {
  command -v node >/dev/null 2>&1 &&
    [ "$(node -p 'Number(process.versions.node.split(".")[0])')" -ge 20 ]
}

# Without systemd as init, package postinsts start services through invoke-rc.d: docker.io's runs
# `invoke-rc.d docker start || exit 1`, i.e. it would start a system dockerd (bridge, iptables
# rules) and fail the whole apt-get install when that dockerd cannot start (e.g. in a container).
# The e2e tests start their own dockerd, so while apt runs, a policy-rc.d (the mechanism
# invoke-rc.d asks) denies service starts; one already present (Docker images ship one) is kept.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_MARK='# gantry install-deps: temporary'
deny_service_starts() {
  [ -d /run/systemd/system ] && return 0   # systemd: deb-systemd-invoke handles units as usual
  { [ -e "$POLICY_RC" ] || [ -L "$POLICY_RC" ]; } && return 0   # keep an existing policy
  printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" > "$POLICY_RC"
  chmod 755 "$POLICY_RC"
  trap restore_service_starts EXIT
}
restore_service_starts() {
  if [ -f "$POLICY_RC" ] && grep -qxF "$POLICY_MARK" "$POLICY_RC"; then rm -f "$POLICY_RC"; fi
}

if [ "${GANTRY_SKIP_APT:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  deny_service_starts
  apt-get update
  apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
  if ! command -v node >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends nodejs
  fi
  if ! command -v npm >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends npm
  fi
fi

if ! node_ok; then
  echo "install-deps: Node.js >= 20 is required, found: $(node --version 2>/dev/null || echo none)." >&2
  echo "  Debian 12's own nodejs is 18; install Node 20 (e.g. NodeSource's nodejs 20.x .deb) and rerun." >&2
  exit 1
fi
echo "install-deps: node $(node --version), npm $(npm --version), runc $(runc --version | head -n1 | awk '{print $3}'), containerd $(containerd --version | awk '{print $3}'), dockerd $(dockerd --version 2>/dev/null | awk '{print $3}' | tr -d ,)"
