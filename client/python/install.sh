#!/usr/bin/env bash
# Installs the `cueball` Python package (client and worker SDK) with
# Debian's packages only: python3-grpcio, python3-protobuf and, to build the
# stubs, protobuf-compiler-grpc. Usage:
#   bash client/python/install.sh             # system-wide, for /usr/bin/python3
#   bash client/python/install.sh --target D  # into folder D (then PYTHONPATH=D)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=""
if [ "${1:-}" = "--target" ]; then target=${2:?--target needs a folder}; fi

need=()
for p in python3 python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
bash "$here/build.sh" "$build"
if [ -z "$target" ]; then
  target=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$target")" ]; then SUDO="sudo"; fi
  $SUDO mkdir -p "$target"
  $SUDO rm -rf "$target/cueball"
  $SUDO cp -r "$build/cueball" "$target/cueball"
else
  mkdir -p "$target"
  rm -rf "$target/cueball"
  cp -r "$build/cueball" "$target/cueball"
fi
echo "installed the cueball Python package in $target"
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$target'); import cueball; print('cueball', cueball.__name__, 'imports fine')"
