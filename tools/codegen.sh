#!/usr/bin/env bash
# codegen.sh — generate TypeScript for proto/ (containerd's v1 API, the shim task API and the
# containerd/cgroups metrics a shim's Stats returns: proto/cgroups/{stats/v1,cgroup2/stats}) with
# protoc + ts-proto, into packages/api/src/gen (committed), or into the directory given as $1
# (packages/api/test/codegen.test.ts regenerates into a temp dir and diffs against the committed copy).
#
# Needs `protoc` (Debian: protobuf-compiler; google/protobuf/*.proto from /usr/include) and
# `npm ci` (the ts-proto plugin is a root devDependency). Output is deterministic: run it again
# after editing proto/ and commit the result.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
out="${1:-$root/packages/api/src/gen}"
plugin="$root/node_modules/.bin/protoc-gen-ts_proto"
protoc_bin="${PROTOC:-protoc}"
wkt_include="${PROTOC_INCLUDE:-/usr/include}"   # where google/protobuf/{any,empty,timestamp,field_mask}.proto live

command -v "$protoc_bin" >/dev/null || { echo "codegen: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[ -x "$plugin" ] || { echo "codegen: $plugin missing (run npm ci)" >&2; exit 1; }
[ -f "$wkt_include/google/protobuf/any.proto" ] || { echo "codegen: no google/protobuf/*.proto under $wkt_include (set PROTOC_INCLUDE)" >&2; exit 1; }

# ts-proto options:
#   outputServices=grpc-js     service definitions, server interfaces and client classes for @grpc/grpc-js
#   env=node, esModuleInterop  Buffer for bytes fields; default imports as tsconfig.base.json compiles them
#   forceLong=bigint           int64/uint64 (content sizes and offsets, snapshot usage, ServerResponse.pid,
#                              Timestamp.seconds) become native bigint: exact over the whole 64-bit range
#                              with no extra runtime dependency ('long' would need the long package and
#                              a wrapper type; 'number' throws past 2^53; 'string' cannot do arithmetic).
#   useDate=false              Timestamps stay {seconds: bigint, nanos: number}: a Date keeps only
#                              milliseconds, and exit times round-trip to containerd with nanoseconds.
#   useOptionals=messages      message-typed fields are `field?: Msg` (absent on the wire = undefined);
#                              scalars are always present with proto3 defaults ('' / 0 / false).
#   exportCommonSymbols=false  no per-file exports of protobufPackage/DeepPartial/MessageFns, so
#                              packages/api/src can `export *` several generated files into one namespace.
#   annotateFilesWithVersion=false  no protoc/ts-proto version banner, so the output depends only on
#                              proto/ and the locked ts-proto (the codegen test compares byte for byte).
#   (no oneofs in these protos, so oneof= is left at its default.)
opts=(
  outputServices=grpc-js
  env=node
  esModuleInterop=true
  forceLong=bigint
  useDate=false
  useOptionals=messages
  exportCommonSymbols=false
  annotateFilesWithVersion=false
)

mkdir -p "$out"
# start clean, so a proto file that was removed or renamed leaves nothing behind
find "$out" -mindepth 1 -delete

cd "$root/proto"
mapfile -t protos < <(find . -name '*.proto' -printf '%P\n' | LC_ALL=C sort)
"$protoc_bin" \
  --plugin=protoc-gen-ts_proto="$plugin" \
  --ts_proto_out="$out" \
  --ts_proto_opt="$(IFS=,; echo "${opts[*]}")" \
  -I "$root/proto" -I "$wkt_include" \
  "${protos[@]}"
echo "codegen: $(find "$out" -name '*.ts' | wc -l) files in $out"
