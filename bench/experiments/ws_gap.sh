#!/bin/sh
# What separates us from ws + bufferutil on Node at 64 KiB and 1 MiB?
# Applies ws_gap.patch (test-only hooks, never shipped) to a checkout of the
# commit it was written for, and runs the echo matrix's `node:http` server
# on Node with each thing ws does differently switched on, next to ws +
# bufferutil and the unpatched server, interleaved as in `bench:echo`:
#   es attr zero-fill off  receive buffers from Buffer.allocUnsafeSlow
#   es attr send copy off  large frames written as header + the caller's
#                          bytes (corked into one writev), no snapshot copy
#   es attr C unmask       unmasking by bufferutil's SIMD C code
#   es attr all three
#
# Usage (from the repository root, after `npm ci`):
#   sh bench/experiments/ws_gap.sh [reps] [duration]
# Writes bench/results/<date>.ws_gap.md and .json.
set -eu
BASE=c35a70d
REPS=${1:-5}
DURATION=${2:-3}
ROOT=$(pwd)
TREE="$ROOT/bench/out/ws-gap"
git worktree remove --force "$TREE" 2>/dev/null || true
git worktree prune
git worktree add --force --detach "$TREE" "$BASE" >/dev/null
trap 'git -C "$ROOT" worktree remove --force "$TREE"' EXIT
git -C "$TREE" apply "$ROOT/bench/experiments/ws_gap.patch"
ln -s "$ROOT/node_modules" "$TREE/node_modules"
DATE=$(date -u +%Y-%m-%d)
node "$ROOT/scripts/deno.mjs" run -A "$TREE/bench/load/run.ts" \
  --servers "ws+bufferutil,es node:http@node,es attr zero-fill off,es attr send copy off,es attr C unmask,es attr all three" \
  --cells 65536x16,65536x256,1048576x1,1048576x16,1048576x256 \
  --reps "$REPS" --duration "$DURATION" --warmup 0.5 --no-memory --no-save \
  --json "$ROOT/bench/results/$DATE.ws_gap.json" > "$ROOT/bench/results/$DATE.ws_gap.md"
echo "bench/results/$DATE.ws_gap.md"
