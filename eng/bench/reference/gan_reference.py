#!/usr/bin/python3
"""DeepArch PyTorch reference for the conditional GANs (CPU, fp32).

Purpose
-------
The PyTorch side of the bench's `gan` workload: the networks DeepArch's
mlContext.Transforms.GenerateByAdversarialNetwork builds with its default
options, trained with the same step on the same data (data/digits.csv), and
the trained generator's forward pass in eval mode for sampling throughput.
Runs with Debian's /usr/bin/python3 + python3-torch (1.13) only.  The
protocol (threads, OpenBLAS pool, glibc malloc, warm-up, timing) is that of
torch_reference.py in this folder; see its --help for why.

Data
----
data/digits.csv: 1,797 rows of 64 pixels (0-16) and a label 0-9.  Each pixel
is scaled onto [-1, 1] from its range in the rows (x - mid) / half-range, a
constant pixel to 0, as DeepArch does before training (here outside the timed
region).  Labels are class indices.

Networks (--kind)
-----------------
  dense   conditional dense GAN, DeepArch's GanKind.Dense defaults:
          G: [noise 32 ++ embedding(label, 10)] -> Linear 256 -> LeakyReLU(0.2)
             -> Linear 256 -> LeakyReLU(0.2) -> Linear 64 -> tanh
          D: [row 64 ++ embedding(label, 10)] -> Linear 256 -> LeakyReLU(0.2)
             -> Linear 256 -> LeakyReLU(0.2) -> Linear 1 (a logit)
          PyTorch's default initialization (as DeepArch's Dense layers).
  dcgan   conditional DCGAN, GanKind.Convolutional, ImageShape [1, 8, 8],
          Filters 32:
          G: [noise 32 ++ embedding(label, 10)] -> Linear 256 -> view 64x2x2
             -> BatchNorm2d -> ReLU -> ConvTranspose2d(32, 4, s2, p1) ->
             BatchNorm2d -> ReLU -> ConvTranspose2d(1, 4, s2, p1) -> tanh ->
             flatten 64
          D: [row 64 ++ embedding(label, 64)] viewed as 2x8x8 (the label's
             embedding is one more channel) -> Conv2d(32, 4, s2, p1) ->
             LeakyReLU(0.2) -> Conv2d(64, 4, s2, p1) -> BatchNorm2d ->
             LeakyReLU(0.2) -> flatten -> Linear 1
          DCGAN initialization (weights N(0, 0.02), batch-norm scales
          N(1, 0.02), biases 0; embeddings keep N(0, 1)).

Training step (--mode train; DeepArch's AdversarialObjective, one step per batch)
-------------------------------------------------------------------------------
  * Whole data set pre-materialised as tensors.  Each epoch: torch.randperm
    shuffle, batches of --batch-size (64) taken with index_select, last
    partial batch kept (DeepArch joins a last batch of one row to the one
    before; the script does too).
  * Per batch: zero_grad on both Adam optimizers (lr --lr 1e-3, betas (0.5,
    0.999)); fake = G(randn(b, 32), labels); discriminator loss =
    BCEWithLogits(D(real), 0.9) + BCEWithLogits(D(fake.detach()), 0) (one-sided
    label smoothing); the mean D(x) and D(G(z)) read with .item(); backward;
    D step; then zero_grad on G, generator loss = BCEWithLogits(D(fake), 1)
    (non-saturating) on the same generated rows against the updated D;
    backward; G step; the exponential moving average of G's parameters
    (decay 0.99) updated in place; both losses read with .item().
  * After training the average replaces G's weights (as DeepArch's End()).
  * --warmup-epochs (1) untimed epoch(s), then --epochs timed epochs;
    samples_per_s = rows * timed epochs / timed seconds (one sample = one real
    row through one step, as in torch_reference.py).

Sampling (--mode sample)
------------------------
A generator freshly built with the same seed (trained for --sample-train-epochs
epochs, default 1, untimed; weights do not change the cost), in eval mode under
torch.inference_mode(), forward over --rows rows (default 100,000) of noise and
labels drawn before timing, in batches of --infer-batch (256, DeepArch's
ScoringBatchSize), each batch's output scaled back to the data's units
(x * half-range + mid, as DeepArch's exported generator does) and one value
read.  One warm-up pass, then --infer-passes (5) timed passes;
samples_per_s = rows * passes / timed seconds.  "draw_samples_per_s" is the
same with the noise and labels drawn inside the pass (torch.randn,
torch.randint per batch), the counterpart of mlContext.Data.Generate, which
draws its noise too.

Output
------
One JSON line on stdout, e.g.
  {"workload": "gan-dense", "mode": "train", "samples_per_s": ..., ...}
Progress messages go to stderr.

Examples
--------
  /usr/bin/python3 gan_reference.py --kind dense --mode train --epochs 20 --threads 2
  /usr/bin/python3 gan_reference.py --kind dcgan --mode sample --rows 100000 --threads 2
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_reference import start_torch  # noqa: E402  (no torch import at module level)

NOISE = 32
CLASSES = 10


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=("dense", "dcgan"), default="dense")
    ap.add_argument("--mode", choices=("train", "sample"), default="train")
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "data", "digits.csv"),
                    help="digits CSV (64 pixel columns, then the label; a header line)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    ap.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default 1); see torch_reference.py")
    ap.add_argument("--epochs", type=int, default=10, help="timed epochs (default 10)")
    ap.add_argument("--warmup-epochs", type=int, default=1, help="untimed warm-up epochs (default 1)")
    ap.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    ap.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 (default 0.5)")
    ap.add_argument("--real-label", type=float, default=0.9, help="real rows' target (default 0.9)")
    ap.add_argument("--average", type=float, default=0.99, help="decay of G's weight average (default 0.99; 0 = none)")
    ap.add_argument("--rows", type=int, default=100000, help="sampling: rows per pass (default 100000)")
    ap.add_argument("--infer-batch", type=int, default=256, help="sampling: batch size (default 256)")
    ap.add_argument("--infer-passes", type=int, default=5, help="sampling: timed passes (default 5, after 1 warm-up pass)")
    ap.add_argument("--sample-train-epochs", type=int, default=1, help="sampling: untimed epochs that train the sampled generator (default 1)")
    ap.add_argument("--malloc", choices=("tuned", "default"), default="tuned", help="glibc malloc thresholds (default tuned)")
    ap.add_argument("--seed", type=int, default=42)
    return ap.parse_args(argv)


def read_digits(path):
    rows, labels = [], []
    with open(path) as f:
        next(f)
        for line in f:
            line = line.strip()
            if line:
                v = line.split(",")
                rows.append([float(x) for x in v[:64]])
                labels.append(int(float(v[64])))
    return rows, labels


def main(argv=None):
    args = parse_args(argv)
    torch, env_info = start_torch(args)
    from torch import nn
    import torch.nn.functional as F

    # ----------------------------------------------------------------- data
    raw, labels = read_digits(args.data)
    x = torch.tensor(raw, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.int64)
    lo, hi = x.min(0).values, x.max(0).values
    half, mid = (hi - lo) / 2, lo + (hi - lo) / 2
    inverse = torch.where(half > 0, 1 / half.clamp_min(1e-30), torch.zeros_like(half))
    x = ((x - mid) * inverse).contiguous()
    rows, width = x.shape

    # --------------------------------------------------------------- networks
    class Conditioned(nn.Module):
        """The label's embedding joined to the flat input, then the body (DeepArch's Conditioned layer)."""
        def __init__(self, embedding, body):
            super().__init__()
            self.embedding = nn.Embedding(CLASSES, embedding)
            self.body = body

        def forward(self, inp, label):
            return self.body(torch.cat([inp, self.embedding(label)], 1))

    def dense_networks():
        g = nn.Sequential(nn.Linear(NOISE + CLASSES, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                          nn.Linear(256, width), nn.Tanh())
        d = nn.Sequential(nn.Linear(width + CLASSES, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                          nn.Linear(256, 1))
        return Conditioned(CLASSES, g), Conditioned(CLASSES, d)

    def dcgan_networks(filters=32):
        g = nn.Sequential(
            nn.Linear(NOISE + CLASSES, 2 * filters * 2 * 2), nn.Unflatten(1, (2 * filters, 2, 2)), nn.BatchNorm2d(2 * filters), nn.ReLU(),
            nn.ConvTranspose2d(2 * filters, filters, 4, stride=2, padding=1), nn.BatchNorm2d(filters), nn.ReLU(),
            nn.ConvTranspose2d(filters, 1, 4, stride=2, padding=1), nn.Tanh(), nn.Flatten())
        d = nn.Sequential(
            nn.Unflatten(1, (2, 8, 8)),
            nn.Conv2d(2, filters, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(filters, 2 * filters, 4, stride=2, padding=1), nn.BatchNorm2d(2 * filters), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * filters * 2 * 2, 1))
        g, d = Conditioned(CLASSES, g), Conditioned(64, d)
        gen = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for net in (g, d):
                for m in net.modules():
                    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                        m.weight.normal_(0.0, 0.02, generator=gen)
                        m.bias.zero_()
                    elif isinstance(m, nn.BatchNorm2d):
                        m.weight.normal_(1.0, 0.02, generator=gen)
                        m.bias.zero_()
        return g, d

    torch.manual_seed(args.seed)
    G, D = dense_networks() if args.kind == "dense" else dcgan_networks()
    name = "gan-" + args.kind
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    g_params = list(G.parameters())
    average = None
    gen = torch.Generator().manual_seed(args.seed)
    bs = args.batch_size

    def step(xb, yb):
        nonlocal average
        opt_d.zero_grad(set_to_none=True)
        opt_g.zero_grad(set_to_none=True)
        fake = G(torch.randn(xb.shape[0], NOISE), yb)
        real_logits = D(xb, yb)
        fake_logits = D(fake.detach(), yb)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, args.real_label))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        with torch.no_grad():
            real_score = real_logits.sigmoid().mean().item()
            fake_score = fake_logits.sigmoid().mean().item()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        out = D(fake, yb)
        g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        g_loss.backward()
        opt_g.step()
        if args.average > 0:
            with torch.no_grad():
                if average is None:
                    average = [p.detach().clone() for p in g_params]
                else:
                    for a, p in zip(average, g_params):
                        a.mul_(args.average).add_(p, alpha=1 - args.average)
        return d_loss.item(), g_loss.item(), real_score, fake_score

    def epoch():
        G.train()
        D.train()
        perm = torch.randperm(rows, generator=gen)
        sums, start = [0.0] * 4, 0
        while start < rows:
            size = min(bs, rows - start)
            if bs > 1 and rows - start - size == 1:
                size += 1                                  # no last batch of one row (batch norm)
            idx = perm[start:start + size]
            losses = step(x.index_select(0, idx), y.index_select(0, idx))
            sums = [s + v * size for s, v in zip(sums, losses)]
            start += size
        return [s / rows for s in sums]

    def run_epochs(count, label):
        times, losses = [], None
        for e in range(count):
            t0 = time.perf_counter()
            losses = epoch()
            times.append(time.perf_counter() - t0)
            print(f"[{name}] {label} epoch {e + 1}: {times[-1]:.3f}s D={losses[0]:.4f} G={losses[1]:.4f} "
                  f"D(x)={losses[2]:.3f} D(G(z))={losses[3]:.3f}", file=sys.stderr, flush=True)
        return times, losses

    def end_training():
        if average is not None:
            with torch.no_grad():
                for p, a in zip(g_params, average):
                    p.copy_(a)

    if args.mode == "train":
        run_epochs(args.warmup_epochs, "warm-up")
        times, losses = run_epochs(args.epochs, "timed")
        end_training()
        sps = rows * len(times) / sum(times)
        result = {
            "workload": name, "mode": "train", "rows": rows, "batch_size": bs,
            "epochs_timed": len(times), "warmup_epochs": args.warmup_epochs,
            "epoch_s_median": round(statistics.median(times), 4),
            "epoch_s_all": [round(t, 4) for t in times],
            "samples_per_s": round(sps, 1),
            "params_g": sum(p.numel() for p in G.parameters()), "params_d": sum(p.numel() for p in D.parameters()),
            "loss_d_last": round(losses[0], 5), "loss_g_last": round(losses[1], 5),
            **env_info,
        }
        print(json.dumps(result), flush=True)
        return 0

    # --------------------------------------------------------------- sampling
    run_epochs(args.sample_train_epochs, "untimed")
    end_training()
    G.eval()
    n, b = args.rows, args.infer_batch
    sgen = torch.Generator().manual_seed(args.seed + 1)
    noise = torch.randn(n, NOISE, generator=sgen)
    labels_all = torch.randint(0, CLASSES, (n,), generator=sgen)
    chunks = list(zip(torch.split(noise, b), torch.split(labels_all, b)))

    def predrawn_pass():
        s = 0.0
        with torch.inference_mode():
            for z, lab in chunks:
                s += float((G(z, lab) * half + mid)[0, 0])
        return s

    def drawing_pass():
        s = 0.0
        with torch.inference_mode():
            for start in range(0, n, b):
                size = min(b, n - start)
                z = torch.randn(size, NOISE, generator=sgen)
                lab = torch.randint(0, CLASSES, (size,), generator=sgen)
                s += float((G(z, lab) * half + mid)[0, 0])
        return s

    def timed(one_pass):
        one_pass()                                         # warm-up
        times = []
        for _ in range(args.infer_passes):
            t0 = time.perf_counter()
            one_pass()
            times.append(time.perf_counter() - t0)
        return times

    pre = timed(predrawn_pass)
    draw = timed(drawing_pass)
    result = {
        "workload": name, "mode": "sample", "rows": n, "batch_size": b, "passes_timed": len(pre),
        "pass_s_median": round(statistics.median(pre), 4),
        "samples_per_s": round(n * len(pre) / sum(pre), 1),
        "draw_pass_s_median": round(statistics.median(draw), 4),
        "draw_samples_per_s": round(n * len(draw) / sum(draw), 1),
        **env_info,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
