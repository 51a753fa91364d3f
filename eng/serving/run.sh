#!/usr/bin/env bash
# The serving-bundle check (CI runs it after the tests): a bundle for every DeepArch architecture (DeepArch.ServingCheck),
# each config.pbtxt parsed against Triton's model configuration schema and matched to its ONNX graph
# (check_triton_config.py, with protoc and python3-protobuf), and every model.onnx scored by a second runtime,
# onnxruntime-node from the npm registry, to 1e-5 of ONNX Runtime for .NET on the same rows (parity.mjs).
# onnxruntime-node is installed once into a cache folder outside the repository (never committed; its install script is
# not run: the package holds its CPU binaries, and nothing is downloaded at run time).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/eng/serving"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ort_version="1.30.0"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/deeparch/onnxruntime-node-$ort_version"
if [ ! -f "$cache/node_modules/onnxruntime-node/package.json" ]; then
  echo "Installing onnxruntime-node $ort_version into $cache"
  rm -rf "$cache" && mkdir -p "$cache"
  (cd "$cache" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error "onnxruntime-node@$ort_version" >/dev/null)
fi

dotnet run -c Release --project "$here/DeepArch.ServingCheck" -- "$work"
/usr/bin/python3 "$here/check_triton_config.py" $(find "$work" -mindepth 1 -maxdepth 1 -type d ! -name samples | sort)
NODE_PATH="$cache/node_modules" node "$here/parity.mjs" "$work"
