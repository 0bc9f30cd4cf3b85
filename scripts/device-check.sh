#!/usr/bin/env bash
# The device check on the GPU machine, with a fallback: when the addon built here does not load
# there, it is rebuilt there with CMake (that machine has nvcc and CMake but no Node.js headers,
# so the two header packages travel along), then scripts/check-cuda.mjs runs.
#
# Here first: `npm run build:native` (nvcc on PATH), `../shared/device/pack-node.sh`. Then the
# device tool's run with
#   command: bash scripts/device-check.sh
#   carry:   [".device", "build/Release", "node_modules/node-api-headers",
#             "node_modules/node-addon-api"]
#   timeout_s: 570
# Extra arguments go to check-cuda.mjs. Logs and the table land in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
xz -dc .device/node.xz > /tmp/node
chmod +x /tmp/node
/tmp/node --version

addon=build/Release/unicode_cmg.node
if ! /tmp/node -e "require(process.argv[1])" "$PWD/$addon" 2> /tmp/addon-load-error; then
  echo "carried addon does not load here: $(head -c 600 /tmp/addon-load-error)"
  echo "rebuilding it here with CMake"
  build=/tmp/ucmg-build
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DUCMG_CUDA=ON \
    -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include;$PWD/node_modules/node-addon-api" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$build/Release" > "$build.configure.log" 2>&1 ||
    { tail -n 40 "$build.configure.log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" > "$build.log" 2>&1 || { tail -n 60 "$build.log"; exit 1; }
  addon=$build/Release/unicode_cmg.node
fi
exec /tmp/node scripts/check-cuda.mjs "$addon" "$@"
