#!/usr/bin/env bash
# Installs cueball's build and test dependencies from Debian's packages,
# skipping the apt calls when everything is already there.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config clang-format git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpqxx-dev libspdlog-dev libcli11-dev catch2 nlohmann-json3-dev prometheus-cpp-dev
  libcurl4-openssl-dev libcivetweb-dev libyaml-cpp-dev libtomlplusplus-dev
  libhowardhinnant-date-dev tzdata
  postgresql openssl curl python3 python3-yaml python3-grpcio python3-protobuf python3-pytest
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
