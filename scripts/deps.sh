#!/usr/bin/env bash
# Installs the Debian 12 packages Quiver builds and tests with (as root),
# only when one is missing, so repeated runs cost nothing.
set -euo pipefail
BUILD_PKGS=(build-essential pkg-config libmicrohttpd-dev libyaml-dev zlib1g-dev libcmocka-dev
    libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev
    libstemmer-dev libicu-dev)
TEST_PKGS=(clang-14 libclang-rt-14-dev clang-format valgrind python3-venv curl
    protobuf-compiler libprotobuf-dev protobuf-c-compiler libprotobuf-c-dev)
want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
