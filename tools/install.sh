#!/bin/sh
# install.sh — install the built Gantry on this machine as an engine is installed: the commands in
# bin/ (gantryd, gantry-containerd, gantry-shim, gantry-runtime, and any other entry bin/ has) on
# PATH, and systemd units shaped as Debian's docker.io and containerd packages ship theirs.
#
#   tools/install.sh [--prefix DIR] [--unitdir DIR] [--build]      install (as root)
#   tools/install.sh [--prefix DIR] [--unitdir DIR] --uninstall    remove what install put there
#   DESTDIR=/stage tools/install.sh ...                             stage into /stage (any user)
#
# What goes where (prefix default /usr/local, unitdir default /etc/systemd/system):
#   <prefix>/lib/gantry/      a self-contained copy: bin/ launchers, packages/*/dist, and only the
#                             production node_modules (~35 MB). A copy, not links into the checkout:
#                             the daemons keep working when the checkout moves, is rebuilt half-way
#                             or deleted, and a rebuild changes nothing running until reinstalled.
#                             The daemons find their siblings (gantryd its gantry-containerd, that
#                             one its gantry-shim) by path inside this tree, so it keeps the repo's
#                             layout.
#   <prefix>/bin/<name>       relative symlinks to ../lib/gantry/bin/<name>
#   <unitdir>/gantry-containerd.service, gantryd.service, gantryd.socket
#   group docker              created when missing (as docker.io's postinst does): gantryd.socket
#                             gives it the API socket (0660 root:docker); removed on uninstall
#                             only if this script created it. Not created when staging (DESTDIR).
# No configuration file is installed: the daemons read none. gantryd.service reads optional extra
# flags from /etc/default/gantryd (GANTRYD_OPTS=...), as docker.service reads /etc/default/docker.
# <prefix>/lib/gantry/install-manifest lists every path outside that tree that install created
# (and the group); --uninstall removes exactly those, so running install twice or uninstall twice
# is harmless.
set -eu

prog=install.sh
die() {
  echo "$prog: $*" >&2
  exit 1
}

prefix=/usr/local
unitdir=/etc/systemd/system
mode=install
build=0
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    --unitdir) [ $# -ge 2 ] || die "--unitdir needs a directory"; unitdir=$2; shift ;;
    --unitdir=*) unitdir=${1#--unitdir=} ;;
    --build) build=1 ;;
    --uninstall) mode=uninstall ;;
    -h | --help)
      sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
case $prefix in /*) ;; *) die "--prefix must be an absolute path: $prefix" ;; esac
case $unitdir in /*) ;; *) die "--unitdir must be an absolute path: $unitdir" ;; esac
prefix=${prefix%/}
unitdir=${unitdir%/}
DESTDIR=${DESTDIR:-}
root=${DESTDIR%/}
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (it writes to $prefix and $unitdir and may create group docker), or set DESTDIR to stage"
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
lib=$prefix/lib/gantry
manifest=$lib/install-manifest
marker='# Installed by Gantry tools/install.sh'
live_systemd() { [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# --- uninstall -------------------------------------------------------------------------------
if [ "$mode" = uninstall ]; then
  if [ ! -f "$root$manifest" ]; then
    echo "$prog: nothing to remove: no $root$manifest"
    exit 0
  fi
  if live_systemd; then
    systemctl disable --now gantryd.socket gantryd.service gantry-containerd.service >/dev/null 2>&1 || true
  fi
  # files and links first, then the group, then directories deepest first (only when empty)
  while read -r kind path; do
    case $kind in
      link) if [ -L "$root$path" ]; then rm -f "$root$path"; fi ;;
      file) if [ -f "$root$path" ] && head -n 1 "$root$path" | grep -qxF "$marker"; then rm -f "$root$path"; fi ;;
    esac
  done <"$root$manifest"
  group_created=$(awk '$1 == "group" { print $2 }' "$root$manifest")
  dirs=$(awk '$1 == "dir" { print $2 }' "$root$manifest" | sort -r)
  rm -rf "$root$lib"
  for g in $group_created; do
    if [ -z "$root" ] && getent group "$g" >/dev/null 2>&1; then groupdel "$g" || echo "$prog: could not remove group $g" >&2; fi
  done
  for d in $dirs; do rmdir "$root$d" 2>/dev/null || true; done
  if live_systemd; then systemctl daemon-reload; fi
  echo "$prog: removed Gantry from ${root:-}$prefix and ${root:-}$unitdir"
  exit 0
fi

# --- install ---------------------------------------------------------------------------------
# every bin/ launcher names its entry point as `main=$bindir/../<path>`: each must be built
mains() {
  for b in "$repo"/bin/*; do
    [ -f "$b" ] || continue
    sed -n 's|^main=\$bindir/\.\./||p' "$b" | head -n 1
  done
}
unbuilt() {
  for m in $(mains); do [ -f "$repo/$m" ] || echo "$m"; done
}
[ -n "$(mains)" ] || die "no launchers with an entry point in $repo/bin"
if [ -n "$(unbuilt)" ]; then
  if [ "$build" = 1 ]; then
    (cd "$repo" && npm run build) || die "npm run build failed"
  fi
  missing=$(unbuilt)
  [ -z "$missing" ] || die "not built: $(echo $missing) missing; run 'npm run build' in $repo first (or pass --build)"
fi
node=$(command -v node 2>/dev/null) || die "node not found on PATH (Gantry runs on Node.js >= 20)"
node=$(readlink -f "$node")

# nothing of someone else's is replaced: checked before anything is written
for b in "$repo"/bin/*; do
  name=$(basename "$b")
  dest=$root$prefix/bin/$name
  if [ -e "$dest" ] || [ -L "$dest" ]; then
    [ -L "$dest" ] && [ "$(readlink "$dest")" = "../lib/gantry/bin/$name" ] || die "$dest exists and is not Gantry's: not replacing it"
  fi
done
for u in gantry-containerd.service gantryd.service gantryd.socket; do
  dest=$root$unitdir/$u
  if [ -e "$dest" ] && ! head -n 1 "$dest" | grep -qxF "$marker"; then die "$dest exists and is not Gantry's: not replacing it"; fi
done

# Directories created here are recorded (with those an earlier install created) so that
# uninstall removes them again, and only them.
created=$(mktemp)
trap 'rm -f "$created"' EXIT
if [ -f "$root$manifest" ]; then awk '$1 == "dir" || $1 == "group"' "$root$manifest" >>"$created"; fi
make_dir() {
  d=$1
  new=
  while [ ! -d "$root$d" ]; do
    new="$d $new"
    d=$(dirname "$d")
  done
  for n in $new; do
    mkdir -m 0755 "$root$n"
    echo "dir $n" >>"$created"
  done
}

# the tree, built beside the old one and swapped in
if [ -n "$root" ]; then mkdir -p "$root"; fi
make_dir "$prefix/lib"
stage=$root$prefix/lib/.gantry.new.$$
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/packages" "$stage/node_modules/@gantry"
trap 'rm -f "$created"; rm -rf "$stage"' EXIT
cp -p "$repo"/bin/* "$stage/bin/"
for p in "$repo"/packages/*/; do
  name=$(basename "$p")
  # test helpers are not part of an installation
  [ "$name" != testkit ] && [ -d "$p/dist" ] && [ -f "$p/package.json" ] || continue
  mkdir -p "$stage/packages/$name"
  cp -p "$p/package.json" "$stage/packages/$name/"
  cp -a "$p/dist" "$stage/packages/$name/dist"
  ln -s "../../packages/$name" "$stage/node_modules/@gantry/$name"
done
find "$stage/packages" -name '*.tsbuildinfo' -delete
# the production dependencies only: npm resolves them (nested ones come with their parent)
deps=$(cd "$repo" && npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$repo/node_modules/||p" | grep -v '^@gantry/' | grep -v '/node_modules/' | sort -u) || true
[ -n "$deps" ] || die "could not list the production dependencies (npm ls --omit=dev in $repo); run npm ci there"
for d in $deps; do
  mkdir -p "$stage/node_modules/$(dirname "$d")"
  cp -a "$repo/node_modules/$d" "$stage/node_modules/$d"
done
(cd "$repo" && git rev-parse HEAD 2>/dev/null) >"$stage/SOURCE_COMMIT" || true
rm -rf "$root$lib"
mv "$stage" "$root$lib"

# the commands on PATH
make_dir "$prefix/bin"
links=
for b in "$root$lib"/bin/*; do
  name=$(basename "$b")
  target=../lib/gantry/bin/$name
  dest=$root$prefix/bin/$name
  ln -sfn "$target" "$dest"
  links="$links $prefix/bin/$name"
done

# the units: Debian's docker.io (docker.service, docker.socket) and containerd (containerd.service)
make_dir "$unitdir"
write_unit() {
  dest=$root$unitdir/$1
  cat >"$dest.tmp"
  chmod 0644 "$dest.tmp"
  mv "$dest.tmp" "$dest"
}
# KillMode=process: stopping or restarting the daemon leaves the gantry-shims (and so the
# containers) running in its cgroup, as containerd's unit does. Delegate=yes: systemd leaves the
# containers' cgroups below the unit's alone. Limits infinite (accounting is the cgroups' job);
# OOMScoreAdjust=-999 as containerd's: the kernel kills containers before the daemon keeping them.
# Type=simple: gantry-containerd does not sd_notify; gantryd waits for its socket (every gRPC call
# is sent with waitForReady), so ordering After= is enough.
write_unit gantry-containerd.service <<EOF
$marker
[Unit]
Description=Gantry lifecycle daemon (containerd API)
Documentation=file://$lib/packages/containerd/README.md
After=network.target local-fs.target

[Service]
Environment=GANTRY_NODE=$node
ExecStart=$prefix/bin/gantry-containerd
Type=simple
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
EOF
# gantryd on the socket systemd holds (-H fd://): clients connecting while it starts wait in the
# socket's backlog. No ExecReload: gantryd reads no configuration file, and SIGHUP, dockerd's
# reload, would end a Node process that does not handle it.
write_unit gantryd.service <<EOF
$marker
[Unit]
Description=Gantry Engine (Docker Engine API)
Documentation=file://$lib/packages/engine/README.md
After=network-online.target gantryd.socket gantry-containerd.service
Wants=network-online.target gantry-containerd.service
Requires=gantryd.socket
StartLimitBurst=3
StartLimitIntervalSec=60s

[Service]
Type=simple
Environment=GANTRY_NODE=$node
EnvironmentFile=-/etc/default/gantryd
ExecStart=$prefix/bin/gantryd -H fd:// --containerd=/run/gantry/containerd/containerd.sock \$GANTRYD_OPTS
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Delegate=yes
KillMode=process
OOMScoreAdjust=-500
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF
write_unit gantryd.socket <<EOF
$marker
[Unit]
Description=Gantry Engine API socket

[Socket]
ListenStream=/run/gantry/gantry.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
EOF

# group docker, which gantryd.socket names (systemd refuses a socket whose group is missing)
group_note=
if [ -z "$root" ]; then
  if ! getent group docker >/dev/null 2>&1; then
    groupadd --system docker || die "could not create group docker"
    echo "group docker" >>"$created"
  fi
else
  group_note="(group docker not created when staging: the package's install step must create it)"
fi

{
  echo "# what tools/install.sh put outside $lib; read by --uninstall"
  for l in $links; do echo "link $l"; done
  for u in gantry-containerd.service gantryd.service gantryd.socket; do echo "file $unitdir/$u"; done
  sort -u "$created"
} >"$root$manifest.tmp"
mv "$root$manifest.tmp" "$root$manifest"

if live_systemd; then systemctl daemon-reload; fi
echo "$prog: installed Gantry into ${root:-}$lib, commands in ${root:-}$prefix/bin, units in ${root:-}$unitdir${group_note:+ $group_note}"
if [ -z "$root" ]; then
  echo "  start it: systemctl enable --now gantry-containerd.service gantryd.socket"
  echo "  use it:   DOCKER_HOST=unix:///run/gantry/gantry.sock docker version"
fi
