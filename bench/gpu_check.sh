#!/usr/bin/env bash
# One call on a lent GPU machine (no network; torch, nanobind, scikit-build-core preinstalled):
# build for the local GPU, run the whole test suite (CUDA tests included), the GPU benchmarks and
# `reproduce all --quick` on the GPU, and write eight files to $OUT (the device tool returns at
# most eight): env.txt, build.log, gpu_tests.log, sanitizer.log, gpu_bench.json, gpu_bench.log,
# reproduce.log and reproduce.tar.gz (reports and results.json of each experiment, no images).
#   run: bash bench/gpu_check.sh
set -uo pipefail
OUT=$(realpath -m "${OUT:-bench/results}")
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
nvidia-smi > "$OUT/env.txt" 2>&1
echo "building for sm_${arch}"
RELUSCOPE_CUDA=ON CUDAARCHS="${arch}" python3 -m pip install -q --no-build-isolation --no-deps . \
  > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
python3 -m reluscope.cli info 2>&1 | tee -a "$OUT/env.txt"
# The whole suite, no -x: every failure is listed in one call. The CUDA tests run here instead of
# skipping (installed package, not the checkout). Synchronous launches, so a fault inside a kernel
# is reported by the call that launched it; pytest-xdist (in the device image) when present.
par=$(python3 -c "import xdist" 2>/dev/null && echo "-n 4")
(cd /tmp && CUDA_LAUNCH_BLOCKING=1 OMP_NUM_THREADS=4 \
   python3 -m pytest "$OLDPWD/tests" -q -p no:cacheprovider $par 2>&1) | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
# Out-of-bounds accesses in the CUDA kernels (memcheck exits 9 on an error; some GPU runtimes do
# not support compute-sanitizer, which then reports that and counts as no finding).
(cd /tmp && timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 \
   python3 -m pytest "$OLDPWD/tests" -q -p no:cacheprovider -k cuda -x 2>&1) > "$OUT/sanitizer.log"
sanitizer_rc=$?
echo "compute-sanitizer rc=$sanitizer_rc" | tee -a "$OUT/sanitizer.log"
python3 -m reluscope.cli bench --device cuda --json "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}
repro=/tmp/reluscope-reproduce
(cd /tmp && python3 -m reluscope.cli reproduce all --quick --device cuda --out "$repro" 2>&1) \
  | tee "$OUT/reproduce.log"
repro_rc=${PIPESTATUS[0]}
(cd "$repro" && tar czf "$OUT/reproduce.tar.gz" $(find . -name '*.md' -o -name '*.json'))
echo "tests rc=$tests_rc sanitizer rc=$sanitizer_rc bench rc=$bench_rc reproduce rc=$repro_rc"
exit $(( tests_rc || sanitizer_rc == 9 || bench_rc || repro_rc ))
