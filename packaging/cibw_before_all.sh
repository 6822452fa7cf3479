#!/usr/bin/env bash
# cibuildwheel's before-all, inside the manylinux_2_28 container (a copy of the project): choose
# the variant (RELUSCOPE_VARIANT=cpu|cu13, default cpu) and, for cu13, install NVIDIA's nvcc from
# PyPI at /opt/cuda-pip (pyproject's [tool.cibuildwheel] points CUDACXX there).
set -euo pipefail
py=/opt/python/cp312-cp312/bin/python
variant=${RELUSCOPE_VARIANT:-cpu}
"$py" packaging/variant.py "$variant" pyproject.toml
if [ "$variant" = cu13 ]; then
  bash packaging/cuda_toolkit.sh /opt/cuda-pip "$py"
fi
