#!/usr/bin/env bash
# Device check of the tfjs 'cuda' backend (bench/cudaDeviceCheck.ts) on a lent H100/H200, within
# about 5 minutes: parity of a small AVT step with tfjs cpu, steps/s of small and paper (AVT, batch
# 80) in fp32 and TF32, the PyTorch anchor on the same GPU with TF32 off and on, one table of ratios.
# The GPU machine has no Node.js and no node_modules, so the check travels as one bundle.
#
# Here (node_modules, nvcc, the npm registry):
#   UCMG_CUDA=ON npm run build:native      # the addon with CUDA (sm_80/sm_90) in build/Release
#   bash scripts/check-cuda-step.sh prepare
#     compiles the TypeScript, bundles the check with tfjs into .device/check-cuda-step.mjs
#     (esbuild through npx, pinned) and packs Node into .device/node.xz (../shared/device/pack-node.sh)
# Then the device tool's run:
#   command:   bash scripts/check-cuda-step.sh run
#   carry:     [".device", "build/Release"]
#   timeout_s: 420
# `run` passes further arguments to the check (--small-steps N, --paper-steps N, --parity-clips N,
# --skip-torch, --cpu-paper-seconds S); logs go to $OUT/check-cuda-step.log and .md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ESBUILD=esbuild@0.24.0
# The bundle is an ES module: the CommonJS parts of tfjs inside it need require, __filename and __dirname.
BANNER="import { createRequire as __ucmgRequire } from 'node:module';
import { fileURLToPath as __ucmgPath } from 'node:url';
const require = __ucmgRequire(import.meta.url);
const __filename = __ucmgPath(import.meta.url);
const __dirname = __ucmgPath(new URL('.', import.meta.url));"

case "${1:-}" in
  prepare)
    npx tsc -p tsconfig.json || true  # emits even with type errors in files of work in progress
    [[ -f dist/bench/cudaDeviceCheck.js ]] || { echo "dist/bench/cudaDeviceCheck.js was not built" >&2; exit 1; }
    mkdir -p .device
    npx --yes "$ESBUILD" dist/bench/cudaDeviceCheck.js --bundle --platform=node --format=esm --target=node20 \
      --ignore-annotations --log-level=warning --outfile=.device/check-cuda-step.mjs --banner:js="$BANNER"
    [[ -f .device/node.xz ]] || ../shared/device/pack-node.sh
    ls -l .device
    [[ -f build/Release/unicode_cmg.node ]] ||
      echo "note: build/Release/unicode_cmg.node is missing (UCMG_CUDA=ON npm run build:native)"
    ;;
  run)
    shift
    node=${TMPDIR:-/tmp}/ucmg-node
    xz -dc .device/node.xz > "$node"
    chmod +x "$node"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || true
    # The bundle cannot find the addon next to itself: name it.
    UCMG_NATIVE_PATH=${UCMG_NATIVE_PATH:-$root/build/Release/unicode_cmg.node} "$node" .device/check-cuda-step.mjs "$@"
    ;;
  *)
    echo "usage: bash scripts/check-cuda-step.sh prepare|run [check options]" >&2
    exit 2
    ;;
esac
