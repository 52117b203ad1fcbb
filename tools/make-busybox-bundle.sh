#!/usr/bin/env bash
# make-busybox-bundle.sh — build an OCI runtime bundle (and optionally a docker-archive image)
# from Debian's static busybox, with no network access and no project build.
#
# Usage:
#   tools/make-busybox-bundle.sh <dir> [--args 'cmd arg ...'] [--terminal]
#                                [--docker-archive <file.tar> --name <ref>] [-- cmd arg ...]
#
#   <dir>/rootfs       busybox at /bin/busybox, one symlink per applet, /etc/{passwd,group,hostname}…
#   <dir>/config.json  an OCI config in the shape `runc spec` writes, with process.args/terminal
#                      taken from the flags.
#
# Options:
#   --args 'cmd arg ...'   process.args, split like a shell word list (single/double quotes and
#                          backslashes are honoured, nothing is expanded or executed).
#   -- cmd arg ...         alternative to --args: every remaining argument is one process arg.
#   --terminal             process.terminal = true. Default: true only for the default args ["sh"]
#                          (as `runc spec` does); false when args are given.
#   --docker-archive FILE  also write FILE in `docker save` format (manifest.json, <digest>.json,
#                          <digest>/layer.tar) for `ctr images import` / `docker load`.
#   --name REF             image reference stored in the archive (default: gantry/busybox:latest).
#
# Requires: bash, coreutils, GNU tar, /bin/busybox (Debian package busybox-static).
set -euo pipefail

die() { echo "make-busybox-bundle: $*" >&2; exit 2; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

BUSYBOX=${BUSYBOX:-/bin/busybox}
dir=""
args_given=0
terminal_flag=0
archive=""
name="gantry/busybox:latest"
declare -a proc_args=()

split_words() {
  # Splits "$1" into words with xargs' quote handling (no expansion, no command execution)
  # and appends them to proc_args.
  local word
  while IFS= read -r -d '' word; do proc_args+=("$word"); done \
    < <(printf '%s' "$1" | xargs printf '%s\0')
}

while [ $# -gt 0 ]; do
  case "$1" in
    --args) [ $# -ge 2 ] || die "--args needs a value"; args_given=1; proc_args=(); split_words "$2"; shift 2 ;;
    --args=*) args_given=1; proc_args=(); split_words "${1#--args=}"; shift ;;
    --terminal) terminal_flag=1; shift ;;
    --docker-archive) [ $# -ge 2 ] || die "--docker-archive needs a file"; archive=$2; shift 2 ;;
    --docker-archive=*) archive=${1#--docker-archive=}; shift ;;
    --name) [ $# -ge 2 ] || die "--name needs a reference"; name=$2; shift 2 ;;
    --name=*) name=${1#--name=}; shift ;;
    -h|--help) usage 0 ;;
    --) shift; args_given=1; proc_args=("$@"); break ;;
    -*) die "unknown option: $1" ;;
    *) [ -z "$dir" ] || die "only one <dir> may be given (got '$dir' and '$1')"; dir=$1; shift ;;
  esac
done

[ -n "$dir" ] || usage 2
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
if [ "$args_given" = 1 ]; then
  [ "${#proc_args[@]}" -gt 0 ] || die "--args must name a command"
  terminal=false
else
  proc_args=(sh)
  terminal=true
fi
[ "$terminal_flag" = 1 ] && terminal=true
case "$name" in *:*) ;; *) name="$name:latest" ;; esac

# ---------------------------------------------------------------------------------------------
# rootfs
# ---------------------------------------------------------------------------------------------
mkdir -p "$dir"
rootfs="$dir/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"
(
  umask 022
  cd "$rootfs"
  mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home/app var/tmp run mnt opt
  cp "$BUSYBOX" bin/busybox
  chmod 0755 bin/busybox
  # One symlink per applet, at the path busybox itself would install it to; top-level names (e.g.
  # "linuxrc") are not wanted in a container. One perl process instead of an `ln` per applet (~270
  # forks, seconds on a loaded machine; the tests make this bundle once per suite).
  "$BUSYBOX" --list-full | perl -ne '
    chomp;
    next if $_ eq "" || $_ eq "bin/busybox" || index($_, "/") < 0;
    (my $d = $_) =~ s{/[^/]*$}{};
    system("mkdir", "-p", $d) == 0 or die "mkdir $d\n" unless -d $d;
    unlink $_;
    symlink("/bin/busybox", $_) or die "symlink $_: $!\n";'

  cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat > etc/group <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
  echo gantry > etc/hostname
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > etc/hosts
  : > etc/resolv.conf
  chmod 1777 tmp var/tmp
  chmod 0700 root
  chown 1000:1000 home/app 2>/dev/null || true
)

# ---------------------------------------------------------------------------------------------
# config.json (same keys and order as `runc spec`; runc >= 1.2 also adds the cgroup namespace
# and no longer sets ambient capabilities, which is what we follow)
# ---------------------------------------------------------------------------------------------
json_string() {
  local s=$1 out="" i c
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      '"') out+='\"' ;;
      '\') out+='\\' ;;
      $'\n') out+='\n' ;;
      $'\t') out+='\t' ;;
      $'\r') out+='\r' ;;
      *)
        if [[ "$c" < ' ' ]]; then out+=$(printf '\\u%04x' "'$c"); else out+=$c; fi ;;
    esac
  done
  printf '"%s"' "$out"
}
json_array() { # json_array <indent> item...
  local indent=$1 first=1 item; shift
  printf '['
  for item in "$@"; do
    [ $first = 1 ] || printf ','
    first=0
    printf '\n%s\t%s' "$indent" "$(json_string "$item")"
  done
  [ $first = 1 ] || printf '\n%s' "$indent"
  printf ']'
}

caps=(CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE)
env_list=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "TERM=xterm")

cat > "$dir/config.json" <<EOF
{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": $terminal,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": $(json_array $'\t\t' "${proc_args[@]}"),
		"env": $(json_array $'\t\t' "${env_list[@]}"),
		"cwd": "/",
		"capabilities": {
			"bounding": $(json_array $'\t\t\t' "${caps[@]}"),
			"effective": $(json_array $'\t\t\t' "${caps[@]}"),
			"permitted": $(json_array $'\t\t\t' "${caps[@]}")
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "gantry",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": ["nosuid", "noexec", "nodev"]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": ["nosuid", "noexec", "nodev", "ro"]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{ "type": "pid" },
			{ "type": "network" },
			{ "type": "ipc" },
			{ "type": "uts" },
			{ "type": "mount" },
			{ "type": "cgroup" }
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
EOF

# ---------------------------------------------------------------------------------------------
# docker-archive (docker save format)
#   manifest.json                [{"Config": "<cfg>.json", "RepoTags": [ref], "Layers": ["<diff>/layer.tar"]}]
#   repositories                 {"repo": {"tag": "<diff>"}} (legacy, read by old docker load)
#   <cfg>.json                   image config; <cfg> = sha256 of this file
#   <diff>/layer.tar             uncompressed layer; <diff> = sha256 of the tar = rootfs.diff_ids[0]
# ---------------------------------------------------------------------------------------------
if [ -n "$archive" ]; then
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    armv7l) arch=arm ;;
    *) arch=$(uname -m) ;;
  esac
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Deterministic layer: sorted names, no "./" prefix, numeric root ownership, fixed mtime.
  (cd "$rootfs" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) > "$work/files"
  # As root the rootfs is owned by 0:0 (and /home/app by 1000:1000), which the layer keeps;
  # as another user everything is recorded as root.
  owner_flags=(--numeric-owner)
  [ "$(id -u)" = 0 ] || owner_flags+=(--owner=0 --group=0)
  tar -C "$rootfs" --no-recursion "${owner_flags[@]}" --mtime=@0 \
      --format=gnu -cf "$work/layer.tar" -T "$work/files"
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir -p "$work/$diff_id"
  mv "$work/layer.tar" "$work/$diff_id/layer.tar"
  echo '1.0' > "$work/$diff_id/VERSION"

  created="1970-01-01T00:00:00Z"
  printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Env":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"tools/make-busybox-bundle.sh"}]}' \
    "$arch" "$created" "$(json_array '' "${env_list[0]}" | tr -d '\n\t')" \
    "$(json_array '' "${proc_args[@]}" | tr -d '\n\t')" "$diff_id" "$created" > "$work/config.json"
  config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$config_id.json"

  repo=${name%:*}
  tag=${name##*:}
  printf '[{"Config":"%s.json","RepoTags":[%s],"Layers":["%s/layer.tar"]}]' \
    "$config_id" "$(json_string "$name")" "$diff_id" > "$work/manifest.json"
  printf '{%s:{%s:"%s"}}' "$(json_string "$repo")" "$(json_string "$tag")" "$diff_id" > "$work/repositories"

  mkdir -p "$(dirname "$archive")"
  tar -C "$work" --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$archive.tmp" \
      manifest.json repositories "$config_id.json" "$diff_id"
  mv "$archive.tmp" "$archive"
  echo "make-busybox-bundle: wrote $archive ($name, config sha256:$config_id)" >&2
fi

echo "make-busybox-bundle: bundle ready in $dir (args: ${proc_args[*]}, terminal: $terminal)" >&2
