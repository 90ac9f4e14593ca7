#!/bin/sh
# deploy_manifests.sh — the manifests of deploy/ (Kubernetes, Slurm, the Containerfile): their
# structure, and the exact command of each container run as local processes with the
# environment Kubernetes or Slurm would set (tests/shell/deploy_manifests.py says how).
# Uses the binaries in $BIN; needs python3-yaml and curl (make deps).
set -u
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
export BIN
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml is required (make deps)"; exit 1; }
command -v curl >/dev/null 2>&1 || { echo "FAIL: curl is required (make deps)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/deploy_manifests.XXXXXX")
PY=""
trap '[ -n "$PY" ] && kill "$PY" 2>/dev/null; wait; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
timeout 300 python3 "$(dirname "$0")/deploy_manifests.py" "$T" &
PY=$!
wait "$PY"
rc=$?
PY=""
exit $rc
