#!/usr/bin/env bash
# The GPU build switches, checked on a machine without a GPU (CI runs it after the tests; about a minute once the
# packages are cached). README, section GPU, says what each switch is for.
#  1. -p:DeepArchGpuScoring=true restores ONNX Runtime's CUDA 13 build and builds; with it, the device tests pass: a model
#     that asks for CUDA falls back to the CPU or fails with DeepArch's error, as the options say.
#  2. -p:DeepArchSystemLibTorch=true ships no libtorch: the Quickstart built with it fails at its first Fit with DeepArch's
#     error naming LD_LIBRARY_PATH, and runs with libtorch's lib folder on LD_LIBRARY_PATH (here the CPU build from the
#     NuGet cache, standing in for a CUDA build installed on a GPU machine).
#  3. The retired -p:DeepArchGpu=true stops the build with an error naming both switches.
#  4. eng/gpu/DeepArch.GpuCheck (the GPU machine's measurements) builds and runs on the CPU, refusing CUDA with DeepArch's errors.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "== GPU scoring build: restore, build, device tests"
dotnet test test/DeepArch.MLNet.Tests -p:DeepArchGpuScoring=true --filter "FullyQualifiedName~DeviceTests" --nologo -v quiet
provider="test/DeepArch.MLNet.Tests/bin/gpu-scoring/Debug/net10.0/libonnxruntime_providers_cuda.so"
[ -f "$provider" ] || provider="test/DeepArch.MLNet.Tests/bin/gpu-scoring/Debug/net10.0/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so"
if [ ! -f "$provider" ]; then
  echo "FAIL: the GPU scoring build holds no libonnxruntime_providers_cuda.so" >&2
  exit 1
fi

echo "== System libtorch build: no libtorch shipped, bound through LD_LIBRARY_PATH"
app="examples/Quickstart/bin/system-libtorch/Release/net10.0"
# Afresh: when its first load fails, TorchSharp copies libtorch from the NuGet cache into the output's cpu/ folder (and still fails).
rm -rf "$app"
dotnet build examples/Quickstart -c Release -p:DeepArchSystemLibTorch=true --nologo -v quiet
if find "$app" -name 'libtorch*.so' | grep -q .; then
  echo "FAIL: the system-libtorch build shipped libtorch files:" >&2
  find "$app" -name 'libtorch*.so' >&2
  exit 1
fi
if env -u LD_LIBRARY_PATH dotnet "$app/Quickstart.dll" >"$log" 2>&1; then
  echo "FAIL: the system-libtorch build ran without a libtorch on LD_LIBRARY_PATH" >&2
  exit 1
fi
grep -q "holds TorchSharp's glue but no libtorch" "$log" || { echo "FAIL: no DeepArch error naming the missing libtorch:" >&2; head -5 "$log" >&2; exit 1; }
libtorch="$(ls -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native)"
LD_LIBRARY_PATH="$libtorch" dotnet "$app/Quickstart.dll" >"$log" 2>&1 || { echo "FAIL: the system-libtorch build did not run with $libtorch:" >&2; tail -20 "$log" >&2; exit 1; }
grep -q "reloaded model's scores differ by at most 0" "$log" || { echo "FAIL: the Quickstart did not finish:" >&2; tail -20 "$log" >&2; exit 1; }

echo "== Retired switch"
if dotnet build src/DeepArch.Trainers -p:DeepArchGpu=true --nologo -v quiet >"$log" 2>&1; then
  echo "FAIL: -p:DeepArchGpu=true built" >&2
  exit 1
fi
grep -q "DeepArchGpuScoring=true" "$log" || { echo "FAIL: the retired switch's error does not name its replacements:" >&2; tail -5 "$log" >&2; exit 1; }

echo "== GpuCheck on the CPU (eng/gpu/run.sh runs it on a GPU machine): JSON lines, CUDA refused with DeepArch's errors"
dotnet build eng/gpu/DeepArch.GpuCheck -c Release --nologo -v quiet
check=(dotnet eng/gpu/DeepArch.GpuCheck/bin/Release/net10.0/DeepArch.GpuCheck.dll)
"${check[@]}" scoring --rows 512 --batches 256 --reps 1 --train-rows 256 >"$log" 2>/dev/null
# Per network on the CPU: the default (every core in the session) and one core fewer (the cursor reads ahead).
[ "$(grep -c '"check":"scoring","network":"[a-z0-9]*","device":"cpu","batch":256,"rows":512,"scoring_threads":0,.*"reads_ahead":false' "$log")" = 3 ] || { echo "FAIL: GpuCheck scoring on the CPU:" >&2; cat "$log" >&2; exit 1; }
[ "$(nproc)" -lt 2 ] || [ "$(grep -c '"check":"scoring","network":"[a-z0-9]*","device":"cpu","batch":256,"rows":512,"scoring_threads":[0-9]*,.*"reads_ahead":true' "$log")" = 3 ] || { echo "FAIL: GpuCheck scoring on the CPU with one core fewer:" >&2; cat "$log" >&2; exit 1; }
[ "$(grep -c '"device":"cuda","batch":256,"scoring_threads":0,"error":"ExecutionProviderUnavailableException' "$log")" = 3 ] || { echo "FAIL: GpuCheck scoring on CUDA was not refused cleanly:" >&2; cat "$log" >&2; exit 1; }
"${check[@]}" training --threads 1 --train-rows 256 --epochs 1 >"$log" 2>/dev/null
[ "$(grep -c '"device":"cpu","threads":1,"rows":256,"epochs":1,"samples_per_s"' "$log")" = 3 ] || { echo "FAIL: GpuCheck training on the CPU:" >&2; cat "$log" >&2; exit 1; }
[ "$(grep -c '"device":"cuda","threads":1,"error":"InvalidOperationException: Options.Device is Cuda' "$log")" = 3 ] || { echo "FAIL: GpuCheck training on CUDA was not refused cleanly:" >&2; cat "$log" >&2; exit 1; }

echo "GPU build switches: OK"
