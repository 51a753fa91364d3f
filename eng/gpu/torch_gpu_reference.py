#!/usr/bin/env python3
"""PyTorch beside DeepArch.GpuCheck's training verb: the same three networks, batch 128, Adam 1e-3, random rows.

    torch_gpu_reference.py [--networks mlp,lenet5,lstm] [--devices cpu,cuda] [--threads 1,2,4,8,16] [--epochs 2]

Each setting runs in a fresh interpreter (torch.set_num_threads before anything else runs) that trains one warm-up
epoch, then times --epochs epochs (shuffle, batches by index_select, zero_grad, forward, loss, backward, step, and
loss.item() per batch, as DeepArch's loop reads each batch's loss). One JSON line per setting on stdout, with the
fields of GpuCheck's training lines and "contender": "pytorch". CUDA runs once, with one thread.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROWS = {"mlp": 20_000, "lenet5": 8_000, "lstm": 4_000}


def child(network, device, threads, rows, epochs):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    dev = torch.device(device)
    if network == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        x, classes = torch.rand(rows, 784), 10
    elif network == "lenet5":
        model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        x, classes = torch.rand(rows, 1, 32, 32), 10
    else:
        class Lstm(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(16, 128, batch_first=True)
                self.fc = nn.Linear(128, 4)

            def forward(self, v):
                _, (h, _) = self.lstm(v)
                return self.fc(h[-1])
        model, x, classes = Lstm(), torch.rand(rows, 50, 16), 4
    y = torch.randint(0, classes, (rows,))
    model, x, y = model.to(dev), x.to(dev), y.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        order = torch.randperm(rows, device=dev)
        total = 0.0
        for start in range(0, rows, 128):
            idx = order[start:start + 128]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x.index_select(0, idx)), y.index_select(0, idx))
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.numel()
        return total / rows

    epoch()
    t0 = time.perf_counter()
    for _ in range(epochs):
        loss = epoch()
    seconds = time.perf_counter() - t0
    print(json.dumps({"check": "training", "contender": "pytorch", "torch": torch.__version__, "network": network, "device": device,
                      "threads": threads, "rows": rows, "epochs": epochs, "samples_per_s": round(rows * epochs / seconds, 1),
                      "seconds": round(seconds, 3), "final_loss": loss}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", default="mlp,lenet5,lstm")
    ap.add_argument("--devices", default="cpu,cuda")
    ap.add_argument("--threads", default="1,2,4,8,16")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rows", type=int, default=0, help="rows per network (0: 20,000 MLP, 8,000 LeNet-5, 4,000 LSTM)")
    ap.add_argument("--child", nargs=5, metavar=("NETWORK", "DEVICE", "THREADS", "ROWS", "EPOCHS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        network, device, threads, rows, epochs = args.child
        child(network, device, int(threads), int(rows), int(epochs))
        return 0
    for network in args.networks.split(","):
        rows = args.rows or ROWS[network]
        for device in args.devices.split(","):
            for threads in ([1] if device == "cuda" else [int(t) for t in args.threads.split(",")]):
                # Debian's torch sends GEMMs to OpenBLAS, whose own thread pool fights OpenMP's (eng/bench/reference/torch_reference.py).
                env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
                run = subprocess.run([sys.executable, __file__, "--child", network, device, str(threads), str(rows), str(args.epochs)],
                                     capture_output=True, text=True, env=env)
                lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
                if run.returncode == 0 and lines:
                    print(lines[-1], flush=True)
                else:
                    error = (run.stderr.strip().splitlines() or ["no output"])[-1]
                    print(json.dumps({"check": "training", "contender": "pytorch", "network": network, "device": device,
                                      "threads": threads, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
