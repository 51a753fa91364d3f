#!/usr/bin/python3
"""Would averaging several autoencoders make the anomaly detector's AUC stable over seeds? (issue 16)

A PyTorch 1.13 replica of the autoencoder detector's default network, not DeepArch itself: 64-32-8-32-64 (ReLU hidden
layers, linear code and output), features standardized with the training rows' mean and standard deviation, Adam at
1e-2, batches of 32, 50 epochs, score = mean squared reconstruction error. Trained on 70 % of the digits 5-9 (one fixed
split, seed 1); ROC AUC of the 1s against the held-out 5-9s. For seeds 1..N it prints the spread of one network's AUC
and of the AUC of the mean score of K networks (seeds s, s+N, ..., s+(K-1)N), so the split is fixed and only the
training seed moves. Usage (Debian's python3-torch and python3-sklearn, a minute or two):

    /usr/bin/python3 eng/quality/reference/detector_ensemble_spread.py --members 5 10 --seeds 10
"""
import argparse
import os

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, nargs="+", default=[5, 10], help="networks averaged per ensemble")
    ap.add_argument("--seeds", type=int, default=10, help="seeds (ensembles) compared")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = np.loadtxt(os.path.join(os.path.dirname(__file__), "../../../data/digits.csv"), delimiter=",", skiprows=1)
    x, y = data[:, :-1].astype(np.float32), data[:, -1].astype(int)
    normal = np.where(np.isin(y, [5, 6, 7, 8, 9]))[0]
    np.random.RandomState(1).shuffle(normal)
    cut = int(0.7 * len(normal))
    train_rows, test_rows, anomalies = normal[:cut], normal[cut:], np.where(y == 1)[0]
    mean, std = x[train_rows].mean(0), x[train_rows].std(0) + 1e-6
    train = torch.tensor((x[train_rows] - mean) / std)
    test = torch.tensor((np.concatenate([x[test_rows], x[anomalies]]) - mean) / std)
    labels = np.r_[np.zeros(len(test_rows)), np.ones(len(anomalies))]

    def errors(seed):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(50):
            order = torch.randperm(len(train), generator=generator)
            for start in range(0, len(train), 32):
                batch = train[order[start:start + 32]]
                optimizer.zero_grad()
                ((net(batch) - batch) ** 2).mean().backward()
                optimizer.step()
        with torch.no_grad():
            return ((net(test) - test) ** 2).mean(1).numpy()

    n = args.seeds
    scores = {s: errors(s) for s in range(1, n * max(args.members) + 1)}

    def report(name, aucs):
        print(f"{name}: AUC mean {np.mean(aucs):.4f}, standard deviation {np.std(aucs, ddof=1):.4f}, "
              f"min {min(aucs):.4f}, max {max(aucs):.4f} over {len(aucs)} seeds")

    report("one network", [roc_auc_score(labels, scores[s]) for s in range(1, n + 1)])
    for k in args.members:
        report(f"mean of {k} networks", [roc_auc_score(labels, np.mean([scores[s + n * m] for m in range(k)], 0)) for s in range(1, n + 1)])


if __name__ == "__main__":
    main()
