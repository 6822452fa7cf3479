#!/usr/bin/env bash
# The whole GPU check, one call on a lent GPU machine (no network; torch, nanobind,
# scikit-build-core, pytest, compute-sanitizer preinstalled). Stages, each with its own time limit
# (seconds; override with LIMIT_<STAGE>), so a slow stage cannot hide the results of an earlier one:
#   probe      nvidia-smi, torch's view of the GPU, and a tiny torch kernel
#   build      the extension for the local GPU, -lineinfo (so the sanitizer names source lines)
#   ext-probe  driver/runtime versions and one tiny kernel through the extension's own runtime
#   cuda-tests every test marked `cuda` (launches asynchronous: stream ordering is exercised too)
#   sanitizer  memcheck, initcheck, racecheck on the tests marked `sanitize` (one small case per
#              kernel), torch's caching allocator off
#   bench      reluscope bench --device cuda (torch.func on the same GPU as the reference)
#   reproduce  reluscope reproduce all --quick --device cuda
# Writes to $OUT (at most 8 files): summary.json (per stage: status, exit code, seconds, limit),
# env.txt, build.log, cuda_tests.log, sanitizer.log, gpu_bench.json, gpu_bench.log, reproduce.log.
# Exit code 0 only when every stage passed; 3 when everything ran and passed but the sanitizer was
# refused by the machine; 1 otherwise. Without a GPU it says so, lists the stages and the CUDA
# tests it would run, and exits 2.
#   run: bash bench/gpu_check.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m "${OUT:-$ROOT/bench/results/gpu-check}")
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
STAGES=(probe build ext-probe cuda-tests sanitizer bench reproduce)
declare -A LIMIT=([probe]=30 [build]=150 [ext-probe]=20 [cuda-tests]=120 [sanitizer]=90
                  [bench]=140 [reproduce]=50)
for s in "${STAGES[@]}"; do
  v="LIMIT_${s//-/_}"; v="${v^^}"
  [ -n "${!v:-}" ] && LIMIT[$s]=${!v}
done
SUMMARY="$OUT/summary.json"
echo "[" > "$SUMMARY.parts"

# record STAGE STATUS RC SECONDS: one JSON object per stage
record() {
  printf '  {"stage": "%s", "status": "%s", "exit_code": %s, "seconds": %s, "limit_s": %s},\n' \
    "$1" "$2" "$3" "$4" "${LIMIT[$1]}" >> "$SUMMARY.parts"
  echo "== stage $1: $2 (exit code $3, ${4}s of ${LIMIT[$1]}s)"
}

# stage NAME LOG COMMAND...: runs the command under the stage's limit, tees its output to LOG
FAILED=0
stage() {
  local name=$1 log=$2; shift 2
  local t0=$SECONDS rc status
  echo "== stage $name (limit ${LIMIT[$name]}s): $*"
  timeout --kill-after=10 "${LIMIT[$name]}" "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then status=pass
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=timeout
  else status=fail; fi
  record "$name" "$status" "$rc" $((SECONDS - t0))
  [ "$status" = pass ] || FAILED=1
  return "$rc"
}

finish() {
  sed -i '$ s/},$/}/' "$SUMMARY.parts"
  { cat "$SUMMARY.parts"; echo "]"; } > "$SUMMARY"
  rm -f "$SUMMARY.parts"
  echo "summary: $SUMMARY"
  cat "$SUMMARY"
  exit "$1"
}

TESTS=(python3 -m pytest "$ROOT/tests" -q -p no:cacheprovider)
if ! nvidia-smi -L > /dev/null 2>&1 || \
   ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
  echo "gpu_check: no CUDA GPU on this machine: nothing was checked (dry run)."
  echo "Stages it runs on a GPU machine, with their limits (s):"
  for s in "${STAGES[@]}"; do echo "  $s ${LIMIT[$s]}"; done
  cuda=$("${TESTS[@]}" -m cuda --collect-only 2>/dev/null | grep -c '::')
  sanitize=$("${TESTS[@]}" -m sanitize --collect-only 2>/dev/null | grep -c '::')
  echo "CUDA tests it would run: $cuda (of which under compute-sanitizer: $sanitize)"
  record probe "no-gpu" 2 0
  finish 2
fi

stage probe "$OUT/env.txt" bash -c 'nvidia-smi; python3 -c "
import torch
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name(0))
x = torch.ones(4, device=\"cuda\") + 1
torch.cuda.synchronize()
assert x.sum().item() == 8.0
print(\"torch kernel ok\")"' || finish 1

arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
stage build "$OUT/build.log" env RELUSCOPE_CUDA=ON RELUSCOPE_CUDA_LINEINFO=ON CUDAARCHS="$arch" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" python3 -m pip install -v --no-build-isolation --no-deps \
  "$ROOT" || finish 1

# From /tmp from here on: the installed package, not the checkout, is imported.
cd /tmp || finish 1
stage ext-probe "$OUT/env.txt" python3 -c "
from reluscope._ext import _core
import reluscope
reluscope.show_config()
p = _core.cuda_probe(0)
print('extension probe:', p)
assert p['kernel_ok'], 'the one-thread kernel did not run'" || finish 1

par=$(python3 -c "import xdist" 2>/dev/null && echo "-n 4")
stage cuda-tests "$OUT/cuda_tests.log" "${TESTS[@]}" -m cuda $par -rs

t0=$SECONDS; rc=0; refused=0
echo "== stage sanitizer (limit ${LIMIT[sanitizer]}s)"
for tool in memcheck initcheck racecheck; do
  left=$(( LIMIT[sanitizer] - (SECONDS - t0) ))
  [ "$left" -gt 5 ] || { rc=124; break; }
  echo "-- compute-sanitizer --tool $tool" | tee -a "$OUT/sanitizer.log"
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout --kill-after=10 "$left" compute-sanitizer \
    --tool "$tool" --error-exitcode 9 "${TESTS[@]}" -m sanitize 2>&1 | tee -a "$OUT/sanitizer.log"
  r=${PIPESTATUS[0]}
  if grep -q "Device not supported" "$OUT/sanitizer.log"; then refused=1; break; fi
  [ "$r" -eq 0 ] || rc=$r
done
if [ "$refused" -eq 1 ]; then record sanitizer refused 0 $((SECONDS - t0))
elif [ "$rc" -eq 0 ]; then record sanitizer pass 0 $((SECONDS - t0))
elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then record sanitizer timeout "$rc" $((SECONDS - t0)); FAILED=1
else record sanitizer fail "$rc" $((SECONDS - t0)); FAILED=1; fi

stage bench "$OUT/gpu_bench.log" python3 -m reluscope.cli bench --device cuda \
  --json "$OUT/gpu_bench.json"
stage reproduce "$OUT/reproduce.log" python3 -m reluscope.cli reproduce all --quick \
  --device cuda --out /tmp/reluscope-reproduce

if [ "$FAILED" -ne 0 ]; then finish 1; fi
if [ "$refused" -eq 1 ]; then finish 3; fi
finish 0
