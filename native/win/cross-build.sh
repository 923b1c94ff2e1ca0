#!/usr/bin/env bash
# Cross-builds the Windows addon (native/win) for win32-x64 with mingw-w64, from Linux: the prebuild that
# `npm pack` ships as prebuilds/win32-x64/portunus.napi.node (package.json's prepack), so that installing on
# Windows loads it through node-gyp-build and needs no compiler, and the build the Windows lane tests.
#
#   bash native/win/cross-build.sh OUTPUT.node
#
# Needs x86_64-w64-mingw32-g++-posix and -dlltool (Debian: g++-mingw-w64-x86-64-posix,
# binutils-mingw-w64-x86-64); with CI=true they are installed when missing, elsewhere their absence is an
# error, so that no package is packed without its Windows prebuild. The Node-API import library is made from
# the node_api.def of the node-api-headers package, fetched once from the npm registry into .windows-lane/
# (git-ignored): node.exe exports the Node-API, and the addon links against it by name as node-gyp's
# node.lib does.
set -euo pipefail

output=${1:?usage: cross-build.sh OUTPUT.node}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=$ROOT/.windows-lane
CXX=x86_64-w64-mingw32-g++-posix
DLLTOOL=x86_64-w64-mingw32-dlltool

if ! command -v "$CXX" >/dev/null 2>&1 || ! command -v "$DLLTOOL" >/dev/null 2>&1; then
  if [[ ${CI:-} != true ]]; then
    echo "cross-build.sh: $CXX is missing; install mingw-w64 (Debian: g++-mingw-w64-x86-64-posix" \
      "binutils-mingw-w64-x86-64) to build the win32-x64 prebuild" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64
fi

if [[ ! -f $CACHE/napi/def/node_api.def ]]; then
  mkdir -p "$CACHE"
  rm -rf "$CACHE/napi" && mkdir -p "$CACHE/napi"
  tarball=$(npm pack node-api-headers --pack-destination "$CACHE" --silent)
  tar -xzf "$CACHE/$tarball" -C "$CACHE/napi" --strip-components=1
  rm -f "$CACHE/$tarball"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$DLLTOOL" -d "$CACHE/napi/def/node_api.def" -l "$work/node_api.a" -D node.exe
mkdir -p "$(dirname "$output")"
"$CXX" -std=c++17 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-cast-function-type -shared -static -s \
  -D_WIN32_WINNT=0x0A00 -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DBUILDING_NODE_EXTENSION \
  -I "$CACHE/napi/include" -I "$(cd "$ROOT" && node -p "require('node-addon-api').include_dir")" \
  "$ROOT"/native/win/*.cc -o "$output" "$work/node_api.a" -lws2_32 -ladvapi32
echo "cross-build.sh: $output ($(stat -c %s "$output") bytes)"
