#!/usr/bin/env bash
# Builds build/emulated/unicode_cmg.node: the real binding and CPU kernels, with the CUDA
# sources of native/cuda and native/cuda/backend compiled for the CPU emulator of
# cuda_emulation.h, so that the CUDA code paths can be checked on a machine without a GPU:
#   native/cuda/emulation/build.sh
#   node scripts/check-cuda.mjs build/emulated/unicode_cmg.node --small
# UCMG_EMULATED_SMS (default 4) sets the multiprocessor count the kernels size grids for.
# UCMG_EMULATED_OUT (default build/emulated, relative to the repository root) sets the output
# folder, so that several builds can live side by side.
# --cuda-only recompiles only the CUDA sources (after a first full build).
set -euo pipefail
cudaOnly=false
[[ "${1:-}" == "--cuda-only" ]] && cudaOnly=true
root=$(cd "$(dirname "$0")/../../.." && pwd)
here=$root/native/cuda/emulation
out=$root/${UCMG_EMULATED_OUT:-build/emulated}
$cudaOnly || rm -rf "$out"
rm -rf "$out/cuda" "$out"/obj/cuda_*.o
mkdir -p "$out/cuda" "$out/obj" "$out/generated/ucmg"
printf '#pragma once\n#define UCMG_CUDA_ARCHS "emulated"\n' > "$out/generated/ucmg/build_config.h"

# kernel<<<grid, block, ...>>>(args)  ->  emu::launch(emu::Config(grid, block, ...), kernel, args)
# Backend sources get a prefix so that a name shared with native/cuda cannot collide; backend
# headers (which may launch kernels from templates) are rewritten too, and their copies in
# $out/cuda are found first by the quoted includes of the rewritten sources.
for cu in "$root"/native/cuda/*.cu "$root"/native/cuda/backend/*.cu "$root"/native/cuda/backend/*.cuh; do
  [[ -e "$cu" ]] || continue
  target=$out/cuda/$(basename "${cu%.cu}").cc
  [[ "$cu" == */backend/*.cu ]] && target=$out/cuda/backend_$(basename "${cu%.cu}").cc
  [[ "$cu" == *.cuh ]] && target=$out/cuda/$(basename "$cu")
  python3 - "$cu" "$target" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'([A-Za-z_][\w:]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(',
              r'emu::launch(emu::Config(\2), \1, ', text, flags=re.S)
open(sys.argv[2], 'w').write(text)
PY
done

common=(-O2 -fPIC -pthread -fopenmp -DUCMG_WITH_CUDA -I"$root/native/include" -I"$out/generated")
napi=(-DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
      -I"$root/node_modules/node-addon-api" -I"$root/node_modules/node-api-headers/include")
compile() {  # source, extra flags...; the object is named <folder>_<file>.o
  local src=$1; shift
  local object=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.*}").o
  g++ "${common[@]}" "$@" -c "$src" -o "$object"
}
pids=()
for src in "$out"/cuda/*.cc; do
  compile "$src" -std=c++20 -ffp-contract=off -fno-strict-aliasing \
    -include "$here/cuda_emulation.h" -I"$here/include" -I"$root/native/cuda" -I"$root/native/cuda/backend" \
    & pids+=($!)
done
if ! $cudaOnly; then
  for src in "$root"/native/common/*.cc "$root"/native/cpu/*.cc; do
    compile "$src" -std=c++17 -ffp-contract=off & pids+=($!)
  done
  for src in "$root"/native/dense/*.cc "$root"/native/binding/*.cc; do
    compile "$src" -std=c++17 "${napi[@]}" & pids+=($!)
  done
fi
for pid in "${pids[@]}"; do wait "$pid"; done
g++ -shared -fopenmp -pthread -o "$out/unicode_cmg.node" "$out"/obj/*.o
echo "built $out/unicode_cmg.node"
