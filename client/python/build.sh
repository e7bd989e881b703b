#!/usr/bin/env bash
# Builds the `cueball` Python package into OUT/cueball: the package's
# sources, and its gRPC stubs (cueball.v1) generated from proto/ with
# Debian's protoc and grpc_python_plugin (protobuf-compiler-grpc), which
# match python3-protobuf and python3-grpcio. Usage: build.sh OUT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: build.sh OUT}
plugin=$(command -v grpc_python_plugin || true)
[ -n "$plugin" ] || { echo "build.sh: grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)" >&2; exit 1; }
mkdir -p "$out"
rm -rf "$out/cueball.tmp"
cp -r "$here/cueball" "$out/cueball.tmp"
find "$out/cueball.tmp" -name __pycache__ -prune -exec rm -rf {} +
protoc -I"$root/proto" --python_out="$out/cueball.tmp/.." --grpc_out="$out/cueball.tmp/.." \
  --plugin=protoc-gen-grpc="$plugin" \
  "$root/proto/cueball/v1/workflows.proto" "$root/proto/cueball/v1/workers.proto" 2>&1
# protoc wrote cueball/v1 next to the copy (its package path): move it in.
rm -rf "$out/cueball.tmp/v1"
mv "$out/cueball/v1" "$out/cueball.tmp/v1" 2>/dev/null || true
rm -rf "$out/cueball"
mv "$out/cueball.tmp" "$out/cueball"
touch "$out/cueball/v1/__init__.py"
