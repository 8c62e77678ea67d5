#!/bin/sh
# CLI startup: how long the quick start's commands take to answer (run by hand, not in CI).
#   sh bench/cli-startup.sh [BASELINE_DIST]   # BASELINE_DIST: another build's dist/ to compare
# Needs hyperfine (apt-get install hyperfine) and a built checkout (npm install).
set -e
cd "$(dirname "$0")/.."
base=${1:+"node $1/cli/bin.js get all"}
hyperfine -N -w 2 -r "${RUNS:-10}" \
  'node -e 0' \
  ${base:+"$base"} \
  'node dist/cli/bin.js get all' \
  './kpath get all' \
  'npx kpath get all' \
  './kpath demo --no-trace --requests 1'
