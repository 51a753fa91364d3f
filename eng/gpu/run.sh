#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after eng/gpu/prepare.sh's two archives were unpacked into one folder
# (APP, default /tmp/deeparch-gpu/app; the provider library goes into that same folder). Prints JSON lines: the machine,
# DeepArch's scoring (CPU and CUDA, beside a raw ONNX Runtime session, and CUDA's outputs against the CPU's), DeepArch's
# training (threads and CUDA), then PyTorch's training on the same machine. Python's torch (a CUDA 13 build, e.g.
# 2.11+cu130) provides libtorch and the CUDA libraries: its lib folder and the nvidia wheels' lib folders go on
# LD_LIBRARY_PATH, where TorchSharp (built with DeepArchSystemLibTorch) and ONNX Runtime's CUDA provider find them.
# Options for quicker runs go to every step: e.g. QUICK="--rows 20000" THREADS=1,4,16 eng/gpu/run.sh
set -euo pipefail
app="${APP:-/tmp/deeparch-gpu/app}"
threads="${THREADS:-1,2,4,8,16}"
python="${PYTHON:-python3}"
libs="$("$python" - <<'PY'
import glob, os, torch
dirs = [os.path.join(os.path.dirname(torch.__file__), "lib")]
try:
    import nvidia
    for root in nvidia.__path__:
        dirs += sorted({os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "lib*.so*"), recursive=True)})
except ImportError:
    pass
print(":".join(dirs))
PY
)"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
check="$app/DeepArch.GpuCheck"
"$check" info
"$check" scoring ${QUICK:-}
"$check" training --threads "$threads" ${QUICK_TRAINING:-}
"$python" "$(dirname "$0")/torch_gpu_reference.py" --threads "$threads"
