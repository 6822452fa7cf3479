#!/usr/bin/env bash
# Install a CUDA 13.0 compiler toolchain from PyPI (NVIDIA's nvcc, nvvm, runtime, crt and cccl
# wheels) into DIR, so no system CUDA is needed; prints the nvcc path.
#   bash packaging/cuda_toolkit.sh DIR [PYTHON]
set -euo pipefail
dir=$1
py=${2:-python3}
"$py" -m pip install -q --target "$dir" "nvidia-cuda-nvcc==13.0.*" "nvidia-nvvm==13.0.*" \
  "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-cuda-cccl==13.0.*" >&2
root="$dir/nvidia/cu13"
chmod +x "$root"/bin/* "$root"/nvvm/bin/*
ln -sfn lib "$root/lib64"  # nvcc.profile looks for lib64
echo "$root/bin/nvcc"
