#!/usr/bin/env bash
# One call on a lent GPU machine (no network; torch, nanobind, scikit-build-core preinstalled):
# build for the local GPU, run the CUDA tests, the GPU benchmarks and `reproduce all --quick` on
# the GPU, write everything to $OUT.
#   run: bash bench/gpu_check.sh          (results: $OUT/gpu_tests.log, $OUT/gpu_bench.json, ...)
set -uo pipefail
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
nvidia-smi > "$OUT/nvidia_smi.txt" 2>&1
echo "building for sm_${arch}"
RELUSCOPE_CUDA=ON CUDAARCHS="${arch}" python3 -m pip install -q --no-build-isolation --no-deps . \
  > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
python3 -m reluscope.cli info | tee "$OUT/info.txt"
# The whole suite: the CUDA tests run here instead of skipping (installed package, not the checkout).
(cd /tmp && python3 -m pytest "$OLDPWD/tests" -q -x -p no:cacheprovider \
   --junitxml="$OUT/gpu_tests.xml" 2>&1) | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
python3 -m reluscope.cli bench --device cuda --json "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}
(cd /tmp && python3 -m reluscope.cli reproduce all --quick --device cuda --out "$OUT/reproduce" 2>&1) \
  | tee "$OUT/reproduce.log"
repro_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc bench rc=$bench_rc reproduce rc=$repro_rc"
exit $(( tests_rc || bench_rc || repro_rc ))
