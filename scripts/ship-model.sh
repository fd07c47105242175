#!/usr/bin/env bash
# Evaluates a trained model and ships it: copies it to models/, writes the CI check file
# (models/NAME.ci-eval.json) and the model card (models/NAME.md) from `spikestream eval --json`.
#
#   scripts/ship-model.sh MODEL.msgpack NAME COMMANDS.txt SYNTH_DIR
#
# SYNTH_DIR is the synthetic N-MNIST folder the model was trained on (its Test/ split is
# evaluated); the real recordings are ../shared/fixtures/nmnist-real (the part training held out).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 name=$2 commands=$3 synth=$4
real=../shared/fixtures/nmnist-real
work=$(mktemp -d)
cp "$model" "models/$name.msgpack"
cli() { node bin/spikestream.js "$@"; }
cli eval --model "models/$name.msgpack" --data "$synth" --split test --json > "$work/synth.json"
cli eval --model "models/$name.msgpack" --data "$real" --heldout --json > "$work/real.json"
cli eval --model "models/$name.msgpack" --data "$real" --heldout --limit 100 --json > "$work/ci.json"
node -e '
const fs = require("fs");
const e = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const out = { model: process.argv[2], data: "nmnist-real", args: ["--heldout", "--limit", "100"], samples: e.samples, accuracy: e.accuracy,
  command: `npx spikestream eval --model models/${process.argv[2]}.msgpack --data ../shared/fixtures/nmnist-real --heldout --limit 100 --json` };
fs.writeFileSync(`models/${process.argv[2]}.ci-eval.json`, JSON.stringify(out, null, 2) + "\n");
' "$work/ci.json" "$name"
npx tsx scripts/model-card.ts "models/$name.msgpack" \
  --eval "synthetic Test/=$work/synth.json" --eval "real, held out=$work/real.json" --eval "real, held out, CI subset=$work/ci.json" \
  --commands "$commands" --out "models/$name.md"
rm -rf "$work"
