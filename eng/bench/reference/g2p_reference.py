#!/usr/bin/python3
"""PyTorch reference GRU encoder-decoder for grapheme-to-phoneme (CMUdict).

Mirrors DeepArch's TorchSharp sequence-to-sequence model so that both can be
trained on the same words and compared (error rates and speed).

Usage: /usr/bin/python3 g2p_reference.py [--data DIR] [--epochs N] ...
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

EMBED = 64
HIDDEN = 256


def read_csv(path):
    """Return a list of (word, [phonemes]) from a Word,Phonemes CSV file."""
    with open(path, newline="") as f:
        return [(r["Word"], r["Phonemes"].split()) for r in csv.DictReader(f)]


class Seq2Seq(nn.Module):
    def __init__(self, n_src, n_tgt, attention, dropout, bidirectional=False):
        super().__init__()
        self.end = n_tgt  # extra target index: end symbol and start symbol
        self.attention = attention
        self.bidirectional = bidirectional
        width = 2 * HIDDEN if bidirectional else HIDDEN  # encoder outputs
        self.src_embed = nn.Embedding(n_src, EMBED)
        self.encoder = nn.GRU(EMBED, HIDDEN, batch_first=True,
                              bidirectional=bidirectional)
        if bidirectional:
            # The final forward and backward states -> the decoder's.
            self.bridge = nn.Linear(2 * HIDDEN, HIDDEN)
        self.tgt_embed = nn.Embedding(n_tgt + 1, EMBED)
        self.decoder = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.drop = nn.Dropout(dropout)
        if attention != "none":
            self.keys = nn.Linear(width, HIDDEN, bias=False)
            self.combine = nn.Linear(width + HIDDEN, HIDDEN)
        self.out = nn.Linear(HIDDEN, n_tgt + 1)

    def encode(self, src, src_len):
        """src: (B, S) padded letter indices; returns outputs, keys, mask, h."""
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), src_len,
                                      batch_first=True, enforce_sorted=False)
        outputs, h = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True,
                                         total_length=src.size(1))
        mask = torch.arange(src.size(1))[None, :] >= src_len[:, None]
        keys = self.keys(outputs) if self.attention != "none" else None
        if self.bidirectional:  # h: (2, B, H) -> (1, B, H)
            h = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))[None]
        return outputs, keys, mask, h

    def step_logits(self, dec_out, enc_out, keys, mask):
        """Output logits (B, T, Vt+1) for decoder outputs (B, T, H)."""
        if self.attention == "none":
            return self.out(self.drop(dec_out))
        scores = dec_out @ keys.transpose(1, 2)  # (B, T, S)
        if self.attention == "scaled":
            scores = scores / math.sqrt(HIDDEN)
        scores = scores.masked_fill(mask[:, None, :], float("-inf"))
        context = torch.softmax(scores, dim=-1) @ enc_out  # (B, T, H)
        att = torch.tanh(self.combine(torch.cat([context, dec_out], dim=-1)))
        return self.out(self.drop(att))

    def forward(self, src, src_len, dec_in):
        """Teacher-forced logits for decoder inputs dec_in (B, T)."""
        enc_out, keys, mask, h = self.encode(src, src_len)
        dec_out, _ = self.decoder(self.drop(self.tgt_embed(dec_in)), h)
        return self.step_logits(dec_out, enc_out, keys, mask)

    def greedy(self, src, src_len, max_len):
        """Greedy decoding; returns lists of target indices (end excluded)."""
        enc_out, keys, mask, h = self.encode(src, src_len)
        tok = torch.full((src.size(0), 1), self.end, dtype=torch.long)
        done = torch.zeros(src.size(0), dtype=torch.bool)
        steps = []
        for _ in range(max_len):
            dec_out, h = self.decoder(self.tgt_embed(tok), h)
            tok = self.step_logits(dec_out, enc_out, keys, mask).argmax(-1)
            steps.append(tok)
            done |= tok[:, 0] == self.end
            if done.all():
                break
        result = []
        for row in torch.cat(steps, dim=1).tolist():
            result.append(row[:row.index(self.end)] if self.end in row
                          else row)
        return result


def pad(seqs, value=0):
    """Right-pad a list of index lists into a (B, max_len) long tensor."""
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs])


def edit_distance(a, b):
    """Levenshtein distance between two sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1,
                           prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(here, "..", "..", "..", "data"),
                   help="folder with cmudict_g2p_{train,valid}.csv")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--attention", default="scaled",
                   choices=["none", "general", "scaled"])
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--bidirectional", action="store_true",
                   help="a bidirectional encoder (DeepArch's default)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-words", type=int, default=0,
                   help="train on the first N words only (0 = all)")
    args = p.parse_args()

    print("command: " + " ".join([sys.executable] + sys.argv))
    print("torch " + torch.__version__)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    random.seed(1)

    train = read_csv(os.path.join(args.data, "cmudict_g2p_train.csv"))
    valid = read_csv(os.path.join(args.data, "cmudict_g2p_valid.csv"))
    if args.max_words > 0:
        train = train[:args.max_words]

    # Vocabularies from the training words only; index Vt = start/end.
    letters = sorted({c for w, _ in train for c in w})
    phones = sorted({ph for _, ps in train for ph in ps})
    src_ix = {c: i for i, c in enumerate(letters)}
    tgt_ix = {ph: i for i, ph in enumerate(phones)}
    end = len(phones)
    max_out = max(len(ps) for _, ps in train) + 5
    print(f"train words {len(train)}, valid words {len(valid)}, letters "
          f"{len(letters)}, phonemes {len(phones)}, attention "
          f"{args.attention}, dropout {args.dropout}, bidirectional "
          f"{args.bidirectional}, threads {args.threads}")

    src = [[src_ix[c] for c in w] for w, _ in train]
    tgt = [[tgt_ix[ph] for ph in ps] for _, ps in train]
    model = Seq2Seq(len(letters), len(phones), args.attention, args.dropout,
                    args.bidirectional)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    # Training with teacher forcing.
    order = list(range(len(train)))
    train_seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        random.shuffle(order)
        start, losses = time.perf_counter(), []
        for b in range(0, len(order), 64):
            idx = order[b:b + 64]
            x = pad([src[i] for i in idx])
            x_len = torch.tensor([len(src[i]) for i in idx])
            dec_in = pad([[end] + tgt[i] for i in idx])
            y = pad([tgt[i] + [end] for i in idx], value=-100)  # -100: pad
            logits = model(x, x_len, dec_in)
            loss = F.cross_entropy(logits.reshape(-1, end + 1), y.reshape(-1),
                                   ignore_index=-100)  # mean over real steps
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
        train_seconds += seconds
        print(f"epoch {epoch}  loss {sum(losses) / len(losses):.4f}  "
              f"{seconds:.1f} s", flush=True)

    # Greedy decoding of the validation words (letters unseen in training
    # are dropped; a word left empty decodes to nothing).
    model.eval()
    vsrc = [[src_ix[c] for c in w if c in src_ix] for w, _ in valid]
    decoded = []
    start = time.perf_counter()
    with torch.no_grad():
        for b in range(0, len(vsrc), 256):
            chunk = vsrc[b:b + 256]
            x_len = torch.tensor([max(len(s), 1) for s in chunk])
            out = model.greedy(pad(chunk), x_len, max_out)
            decoded += [[phones[i] for i in s] for s in out]
    decode_seconds = time.perf_counter() - start

    wrong = sum(d != ref for d, (_, ref) in zip(decoded, valid))
    edits = sum(edit_distance(d, ref) for d, (_, ref) in zip(decoded, valid))
    n_ref = sum(len(ref) for _, ref in valid)
    print(f"WER {100.0 * wrong / len(valid):.2f} %")
    print(f"PER {100.0 * edits / n_ref:.2f} %")
    print(f"training seconds {train_seconds:.1f}")
    print(f"training samples/s "
          f"{len(train) * args.epochs / train_seconds:.1f}")
    print(f"greedy decoding (batch 256) sequences/s "
          f"{len(valid) / decode_seconds:.1f}")
    # One JSON line last, for eng/bench (DeepArch.Bench seq2seq).
    print(json.dumps({
        "samples_per_s": len(train) * args.epochs / train_seconds,
        "decode_sequences_per_s": len(valid) / decode_seconds,
        "wer": wrong / len(valid),
        "per": edits / n_ref,
        "torch": torch.__version__,
        "threads": args.threads,
    }), flush=True)


if __name__ == "__main__":
    main()
