#!/usr/bin/env bash
# Validate an X12 834 file against the 005010X220A1 map with pyx12's x12valid.
# Usage: scripts/validate-834.sh FILE   (installs pyx12 with pip if x12valid is missing)
# Exits 0 only when x12valid says "FILE: OK" and logs no ERROR.
# (pyx12 4.0.0's x12valid exits 1 even on success, so its exit status is not used.)
set -uo pipefail
file=${1:?usage: validate-834.sh FILE}
if ! command -v x12valid >/dev/null 2>&1; then
  python3 -m pip install --quiet pyx12 >&2 || { echo "cannot install pyx12" >&2; exit 2; }
fi
out=$(x12valid "$file" 2>&1)
echo "$out"
if grep -q ' ERROR ' <<<"$out" || ! grep -qF "$file: OK" <<<"$out"; then
  exit 1
fi
