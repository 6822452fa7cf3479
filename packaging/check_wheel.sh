#!/usr/bin/env bash
# Install a built wheel into a fresh venv outside the source tree and run the smoke test there:
#   bash packaging/check_wheel.sh path/to/reluscope-*.whl
# (torch==2.13.0 first, as everywhere in CI: a local CPU wheel.)
set -euo pipefail
wheel=$(realpath "${1:?usage: check_wheel.sh WHEEL}")
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0 "$wheel"
cp "$here/smoke_test.py" "$work/"
cd "$work" && "$work/venv/bin/python" smoke_test.py
