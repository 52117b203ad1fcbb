#!/usr/bin/env bash
# runc-bats.sh — run runc's own integration suite (bats, tag v1.1.5: the runc Debian 12 ships)
# against a runc-compatible runtime binary, offline. Prints pass/fail/skip per file and a total.
#
# Usage (as root):
#   RUNC_GIT=<git dir of an opencontainers/runc clone> tools/runc-bats.sh [runtime] [file.bats ...]
#   npm run runc-bats                       # the same for bin/gantry-runtime, every file
#   VERBOSE=1 ...                           # also list the failing tests of each file
#   tools/runc-bats.sh /usr/sbin/runc       # the reference numbers (both, per file: packages/runtime/README.md)
#
# Environment: RUNC_GIT (needed once, to extract the suite), BATS_WORK (work directory, default
# ${TMPDIR:-/tmp}/gantry-runc-bats), FILE_TIMEOUT (seconds per file, default 600).
# Needs (apt): bats gawk jq busybox-static debootstrap golang-go libseccomp-dev util-linux xz-utils.
#
# The suite wants network images and a Go build of runc's helpers; here the busybox image is made
# from busybox-static, the Debian one with debootstrap from the apt mirror, and recvtty/seccompagent
# are built from runc's vendored sources. Run one suite at a time: runc's tests share cgroup paths.
set -u
RT=$(readlink -f "${1:-$(dirname "$0")/../bin/gantry-runtime}")
[ $# -gt 0 ] && shift
W=${BATS_WORK:-${TMPDIR:-/tmp}/gantry-runc-bats}
[ "$(id -u)" = 0 ] || { echo "runc-bats: run as root" >&2; exit 2; }
for tool in bats gawk jq busybox debootstrap go script xz; do
  command -v "$tool" >/dev/null || { echo "runc-bats: $tool missing (see the apt list at the top of $0)" >&2; exit 2; }
done

if [ ! -d "$W/tests/integration" ]; then
  [ -n "${RUNC_GIT:-}" ] || { echo "runc-bats: set RUNC_GIT to the git dir of an opencontainers/runc clone" >&2; exit 2; }
  mkdir -p "$W" && git -C "$RUNC_GIT" archive v1.1.5 tests contrib go.mod go.sum vendor libcontainer types | tar -x -C "$W" || exit 2
fi

TD="$W/tests/integration/testdata"
# an image from an older version of this script (a 0700 root, or /proc and /sys in it) is made again
if [ -f "$TD/busybox-amd64.tar.xz" ] &&
  { tar -tvJf "$TD/busybox-amd64.tar.xz" | awk '$NF == "./" && $1 != "drwxr-xr-x" { bad = 1 } END { exit !bad }' ||
    tar -tJf "$TD/busybox-amd64.tar.xz" | grep -qx './proc/'; }; then
  rm -f "$TD/busybox-amd64.tar.xz"
fi
if [ ! -f "$TD/busybox-amd64.tar.xz" ]; then
  img=$(mktemp -d)
  # the layout of the busybox image runc's tests download: no /proc nor /sys (mask.bats replaces
  # them with symlinks, which `ln -s` would put inside an existing directory instead)
  mkdir -p "$img"/{bin,dev,etc,home,root,tmp,usr,var}
  chmod 755 "$img"   # the image's "/" becomes the rootfs: it must stay traversable for non-root users
  cp /usr/bin/busybox "$img/bin/"
  for applet in $(/usr/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$img/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$img/etc/passwd"
  echo 'root:x:0:' >"$img/etc/group"
  tar -C "$img" -cJf "$TD/busybox-amd64.tar.xz" . && rm -rf "$img"
fi
if [ ! -f "$TD/debian-amd64.tar.xz" ]; then
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  debootstrap --variant=minbase bookworm "$W/debroot" "${mirror:-http://deb.debian.org/debian}" >/dev/null 2>&1 &&
    tar -C "$W/debroot" -cJf "$TD/debian-amd64.tar.xz" . && rm -rf "$W/debroot"
fi
for helper in recvtty seccompagent; do
  bin="$W/contrib/cmd/$helper/$helper"
  # a seccompagent built without the tag only prints "Not supported": every notify test then fails
  [ -x "$bin" ] && ! { [ "$helper" = seccompagent ] && "$bin" -h 2>&1 | grep -q 'Not supported'; } && continue
  # seccompagent is a stub without the "seccomp" build tag (it needs libseccomp-dev, cgo)
  (cd "$W" && GOFLAGS=-mod=vendor go build -tags seccomp -o "contrib/cmd/$helper/$helper" "./contrib/cmd/$helper") >/dev/null 2>&1 ||
    echo "runc-bats: building $helper failed" >&2
done

cd "$W/tests/integration" || exit 2
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(*.bats)
pass=0 fail=0 skip=0
for f in "${files[@]}"; do
  # `runc spec` turns process.terminal on, so the suite expects a controlling terminal: script(1)
  out=$(RUNC="$RT" timeout "${FILE_TIMEOUT:-600}" script -qec "bats --tap $f" /dev/null 2>&1 | tr -d '\r')
  p=$(grep -c '^ok ' <<<"$out") x=$(grep -c '^not ok ' <<<"$out") s=$(grep -c '^ok .*# skip' <<<"$out")
  planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out" | head -1)
  p=$((p - s)) pass=$((pass + p)) fail=$((fail + x)) skip=$((skip + s))
  missing=$(( ${planned:-0} - p - x - s ))
  printf '%-28s pass %3d  fail %3d  skip %3d%s\n' "$f" "$p" "$x" "$s" "$([ "$missing" -gt 0 ] && echo "  (timed out: $missing not run)")"
  [ -n "${VERBOSE:-}" ] && grep '^not ok' <<<"$out"
done
echo "TOTAL pass $pass fail $fail skip $skip"
# The suite's remove_parent() leaves the pod cgroups it made in the cgroup2 tree of a hybrid host.
for leftover in /sys/fs/cgroup/*/runc-cgroups-integration-test; do
  [ -d "$leftover" ] && find "$leftover" -depth -type d -exec rmdir {} + 2>/dev/null
done
true
