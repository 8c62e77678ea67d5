#!/usr/bin/env bash
# A complete build of kpath at another git revision, for the benches' side-by-side runs:
#
#   bench/base-build.sh REV DIR        e.g. bench/base-build.sh main~3 /tmp/kp-base
#
# then `node bench/proxy/run.mjs --dist DIR/dist ...`, `node bench/proxy-decide.mjs --vs DIR/dist`,
# `node bench/proxy-decide-instr.mjs --dist dist,DIR/dist`. DIR gets REV's tree (git archive), this
# checkout's node_modules (a link), REV's TypeScript built to DIR/dist and REV's native addon built
# to DIR/native/build, so kpath run from DIR/dist finds its own package.json, packages and addon (a
# bare `tsc --outDir` build finds neither: bench/lib.mjs refuses it for --dist).
set -euo pipefail
usage='usage: bench/base-build.sh REV DIR (DIR must not exist)'
rev=${1:?$usage}
dir=${2:?$usage}
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$dir" ]; then
  echo "bench/base-build.sh: $dir exists; $usage" >&2
  exit 2
fi
git -C "$repo" rev-parse --verify --quiet "$rev^{commit}" > /dev/null || {
  echo "bench/base-build.sh: $rev is not a revision of $repo" >&2
  exit 2
}
mkdir -p "$dir"
git -C "$repo" archive "$rev" | tar -x -C "$dir"
ln -s "$repo/node_modules" "$dir/node_modules"
cd "$dir"
npx tsc -p tsconfig.build.json
KPATH_REQUIRE_NATIVE=1 npm run --silent build:native > build-native.log 2>&1 || {
  echo "bench/base-build.sh: the native addon did not build (see $dir/build-native.log)" >&2
  exit 1
}
echo "$dir/dist"
