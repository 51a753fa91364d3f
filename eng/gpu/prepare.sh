#!/usr/bin/env bash
# Prepares issue 22's GPU measurements on this (GPU-less) machine, for a GPU machine without dotnet:
#  1. publishes eng/gpu/DeepArch.GpuCheck self-contained for linux-x64 with ONNX Runtime's CUDA 13 build and no libtorch
#     (-p:DeepArchGpuScoring=true -p:DeepArchSystemLibTorch=true; TorchSharp binds the machine's libtorch at run time);
#  2. keeps only one GPU architecture's code in ONNX Runtime's CUDA provider (hopper_only.py; ARCH=90 by default, the
#     H100/H200), which takes it from 289 MB to about 58 MB as xz;
#  3. packs two archives under artifacts/gpu/, each small enough for one transfer: provider.tar.xz and app.tar.xz.
# eng/gpu/README.md says how to run them there (eng/gpu/run.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
arch="${ARCH:-90}"
out=artifacts/gpu
rm -rf "$out/app" "$out/provider"
mkdir -p "$out/provider"
dotnet publish eng/gpu/DeepArch.GpuCheck -c Release -r linux-x64 --self-contained \
  -p:DeepArchGpuScoring=true -p:DeepArchSystemLibTorch=true --nologo -v quiet -o "$out/app"
if find "$out/app" -name 'libtorch*.so' | grep -q .; then
  echo "FAIL: the publish holds libtorch files; DeepArchSystemLibTorch should have left them out" >&2
  exit 1
fi
provider="$out/app/libonnxruntime_providers_cuda.so"
[ -f "$provider" ] || { echo "FAIL: no libonnxruntime_providers_cuda.so in $out/app" >&2; exit 1; }
/usr/bin/python3 eng/gpu/hopper_only.py "$provider" "$out/provider/libonnxruntime_providers_cuda.so" "$arch"
rm "$provider"
tar -C "$out/provider" -cJf "$out/provider.tar.xz" libonnxruntime_providers_cuda.so
tar -C "$out" -cJf "$out/app.tar.xz" app
ls -l "$out/provider.tar.xz" "$out/app.tar.xz" | awk '{printf "%s %.1f MiB\n", $9, $5 / 1048576}'
