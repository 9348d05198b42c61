#!/usr/bin/env python3
"""SASRec in plain PyTorch: the independent peer of RecAlign's TorchSharp SASRec.

Architecture and defaults follow RecBole's SASRec (post-LN Transformer, learned
positions, right-padded histories, full-catalog cross-entropy). It reads the
same sequence tables as RecAlign (`seq,len_seq,next`) and reports quality on the
validation table plus training/evaluation throughput, so both implementations can
be compared side by side. Depends only on torch and numpy.
"""

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


# ----------------------------------------------------------------------------- data

def find_file(folder, *names):
    # File names differ in case between data sets (Val_data.csv vs val_data.csv).
    present = {f.lower(): f for f in os.listdir(folder)}
    for name in names:
        if name.lower() in present:
            return os.path.join(folder, present[name.lower()])
    raise FileNotFoundError(f"none of {names} in {folder}")


def catalog_size(folder):
    """Item count N; item ids are 0..N-1 and N is the padding id in `seq`."""
    statis = [f for f in os.listdir(folder) if f.lower() == "data_statis.csv"]
    if statis:
        with open(os.path.join(folder, statis[0]), newline="") as fh:
            row = next(csv.DictReader(fh))
        return int(row["item_num"])
    with open(find_file(folder, "id2name.txt"), encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def parse_ids(text):
    # Accept both "1 2 3" and "[1, 2, 3]".
    return [int(x) for x in text.replace("[", " ").replace("]", " ").replace(",", " ").split()]


def read_table(path, n_items, max_len):
    """Returns (hist [R, max_len] of embedding rows, lengths [R], targets [R], stats).

    Embedding row = item id + 1 (row 0 is padding). The history is the non-padding
    ids of `seq`; `len_seq` is not trusted because empty histories carry len_seq=1.
    """
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    hist = np.zeros((len(rows), max_len), dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    targets = np.zeros(len(rows), dtype=np.int64)
    stats = {"rows": len(rows), "empty_history": 0, "len_seq_mismatch": 0, "truncated": 0,
             "target_in_history": 0}
    for r, row in enumerate(rows):
        ids = [i for i in parse_ids(row["seq"]) if i != n_items]
        if any(i < 0 or i > n_items for i in ids):
            raise ValueError(f"{path} row {r}: item id out of range")
        if int(row["len_seq"]) != len(ids):
            stats["len_seq_mismatch"] += 1
        target = int(row["next"])
        if not 0 <= target < n_items:
            raise ValueError(f"{path} row {r}: target {target} out of range")
        if target in ids:
            stats["target_in_history"] += 1
        if len(ids) > max_len:
            stats["truncated"] += 1
            ids = ids[-max_len:]
        if not ids:
            stats["empty_history"] += 1
        hist[r, :len(ids)] = np.asarray(ids, dtype=np.int64) + 1  # right padding, as RecBole
        lengths[r] = len(ids)
        targets[r] = target
    return torch.from_numpy(hist), torch.from_numpy(lengths), torch.from_numpy(targets), stats


# ----------------------------------------------------------------------------- model

class MultiHeadAttention(nn.Module):
    def __init__(self, d, n_heads, attn_dropout, hidden_dropout):
        super().__init__()
        assert d % n_heads == 0
        self.n_heads, self.head_size = n_heads, d // n_heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dense = nn.Linear(d, d)
        self.attn_dropout_p = attn_dropout
        self.attn_dropout = nn.Dropout(attn_dropout)
        self.out_dropout = nn.Dropout(hidden_dropout)
        self.layer_norm = nn.LayerNorm(d, eps=1e-12)

    def split(self, x):
        b, length, _ = x.shape
        return x.view(b, length, self.n_heads, self.head_size).transpose(1, 2)

    def forward(self, x, allowed):
        # allowed: bool [B, 1, L, L], True where the query may attend to the key.
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        if HAS_SDPA:
            ctx = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed,
                dropout_p=self.attn_dropout_p if self.training else 0.0)
        else:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)
            scores = scores.masked_fill(~allowed, float("-inf"))
            ctx = self.attn_dropout(scores.softmax(dim=-1)) @ v
        ctx = ctx.transpose(1, 2).reshape(x.shape)
        return self.layer_norm(self.out_dropout(self.dense(ctx)) + x)


class FeedForward(nn.Module):
    def __init__(self, d, inner, hidden_dropout):
        super().__init__()
        self.dense_1, self.dense_2 = nn.Linear(d, inner), nn.Linear(inner, d)
        self.dropout = nn.Dropout(hidden_dropout)
        self.layer_norm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x):
        h = self.dense_2(F.gelu(self.dense_1(x)))  # exact (erf) GELU, as RecBole's "gelu"
        return self.layer_norm(self.dropout(h) + x)


class TransformerLayer(nn.Module):
    def __init__(self, d, n_heads, inner, hidden_dropout, attn_dropout):
        super().__init__()
        self.attention = MultiHeadAttention(d, n_heads, attn_dropout, hidden_dropout)
        self.feed_forward = FeedForward(d, inner, hidden_dropout)

    def forward(self, x, allowed):
        return self.feed_forward(self.attention(x, allowed))


class SASRec(nn.Module):
    def __init__(self, n_items, max_len=10, d=64, n_layers=2, n_heads=2, inner=256,
                 hidden_dropout=0.2, attn_dropout=0.2):
        super().__init__()
        self.n_items, self.max_len = n_items, max_len
        self.item_embedding = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, d)
        self.layer_norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(hidden_dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(d, n_heads, inner, hidden_dropout, attn_dropout) for _ in range(n_layers))
        self.apply(self._init_weights)
        with torch.no_grad():
            # RecBole's normal_ init overwrites the padding row; keep it at zero instead.
            self.item_embedding.weight[0].zero_()

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def attention_mask(self, hist):
        length = hist.shape[1]
        real = hist > 0
        # An empty history would leave every query without a key (NaN softmax):
        # let position 0 be a key there; its state is then just the position-0 encoding.
        real[:, 0] |= ~real.any(dim=1)
        causal = torch.ones(length, length, dtype=torch.bool, device=hist.device).tril()
        return causal[None, None] & real[:, None, None, :]

    def forward(self, hist, lengths):
        """User states [B, d]: output at the last real position (0 for an empty history)."""
        positions = torch.arange(hist.shape[1], device=hist.device)
        x = self.item_embedding(hist) + self.position_embedding(positions)[None]
        x = self.dropout(self.layer_norm(x))
        allowed = self.attention_mask(hist)
        for layer in self.layers:
            x = layer(x, allowed)
        last = (lengths - 1).clamp(min=0)
        return x[torch.arange(x.shape[0], device=x.device), last]

    def item_logits(self, states):
        # Scores over item ids 0..N-1 (padding row excluded).
        return states @ self.item_embedding.weight[1:].T


# ----------------------------------------------------------------------------- training

def train(model, hist, lengths, targets, epochs, batch, lr, seed, log):
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    n = hist.shape[0]
    epoch_seconds, epoch_losses = [], []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        start = time.perf_counter()
        total = 0.0
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            states = model(hist[idx], lengths[idx])
            loss = F.cross_entropy(model.item_logits(states), targets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        epoch_seconds.append(time.perf_counter() - start)
        epoch_losses.append(total / n)
        log(f"epoch {epoch + 1}/{epochs}: loss {epoch_losses[-1]:.4f}  {epoch_seconds[-1]:.2f}s"
            f"  {n / epoch_seconds[-1]:.0f} seq/s")
    return epoch_seconds, epoch_losses


# ----------------------------------------------------------------------------- evaluation

def pessimistic_rank(scores, target_scores):
    # Ties count against the target: rank = 1 + #(others scoring >= target).
    return 1 + (scores >= target_scores[:, None]).sum(dim=1)


def ranking_metrics(ranks, ks):
    ranks = ranks.double()
    out = {}
    for k in ks:
        out[f"HR@{k}"] = (ranks <= k).double().mean().item()
    for k in ks:
        if k > 1:
            gain = torch.where(ranks <= k, 1.0 / torch.log2(ranks + 1.0), torch.zeros_like(ranks))
            out[f"NDCG@{k}"] = gain.mean().item()
    out["MRR"] = (1.0 / ranks).mean().item()
    return out


def candidate_negatives(n_items, targets, n_neg, seed):
    """Per row: n_neg distinct items drawn uniformly from the catalog minus the target."""
    negs = np.empty((len(targets), n_neg), dtype=np.int64)
    for r, t in enumerate(targets.tolist()):
        rng = np.random.RandomState((seed * 1000003 + r) % 2**32)
        draw = rng.choice(n_items - 1, size=n_neg, replace=False)
        negs[r] = draw + (draw >= t)  # skip over the target id
    return torch.from_numpy(negs)


@torch.no_grad()
def evaluate(model, hist, lengths, targets, n_items, batch, n_candidates, seed):
    model.eval()
    rows = torch.arange(hist.shape[0])
    # Full catalog, timed: forward, scoring, history masking, ranking.
    start = time.perf_counter()
    full_ranks, all_logits = [], []
    for s in range(0, hist.shape[0], batch):
        h, l, t = hist[s:s + batch], lengths[s:s + batch], targets[s:s + batch]
        logits = model.item_logits(model(h, l))
        all_logits.append(logits)  # masked_fill below copies
        b = torch.arange(h.shape[0])
        target_score = logits[b, t]
        seen = torch.zeros_like(logits, dtype=torch.bool)
        seen[b[:, None].expand_as(h)[h > 0], h[h > 0] - 1] = True
        seen[b, t] = False
        logits = logits.masked_fill(seen, float("-inf"))
        logits[b, t] = float("-inf")  # the target is not its own competitor
        full_ranks.append(pessimistic_rank(logits, target_score))
    eval_seconds = time.perf_counter() - start
    full = ranking_metrics(torch.cat(full_ranks), [1, 5, 10, 20])

    # Sampled candidates: target + uniform negatives (history not excluded), scored on the same logits.
    logits = torch.cat(all_logits)
    negs = candidate_negatives(n_items, targets, n_candidates - 1, seed)
    cand_rank = pessimistic_rank(logits[rows[:, None], negs], logits[rows, targets])
    cand_all = ranking_metrics(cand_rank, [1, 5])
    cand = {"HR@1": cand_all["HR@1"], "NDCG@5": cand_all["NDCG@5"], "HR@5": cand_all["HR@5"],
            "MRR": cand_all["MRR"]}
    return full, cand, eval_seconds


# ----------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/data/lastfm/ref-sdpo",
                   help="folder with train_data.csv, Val_data.csv/val_data.csv and id2name.txt or data_statis.csv")
    p.add_argument("--dataset", default=None, help="name written to the output (default: folder name)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="one epoch")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-len", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--inner", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--hidden-dropout", type=float, default=0.2)
    p.add_argument("--attn-dropout", type=float, default=0.2)
    p.add_argument("--candidates", type=int, default=20, help="list size for the sampled-candidate metrics")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args()
    epochs = 1 if args.quick else args.epochs

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    n_items = catalog_size(args.data)
    train_t = read_table(find_file(args.data, "train_data.csv"), n_items, args.max_len)
    val_t = read_table(find_file(args.data, "val_data.csv"), n_items, args.max_len)
    dataset = args.dataset or os.path.basename(os.path.normpath(args.data))
    attention = "scaled_dot_product_attention" if HAS_SDPA else "explicit softmax"
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, attention: {attention}")
    log(f"{dataset}: {n_items} items; train {train_t[3]}; val {val_t[3]}")

    model = SASRec(n_items, args.max_len, args.hidden, args.layers, args.heads, args.inner,
                   args.hidden_dropout, args.attn_dropout)
    epoch_seconds, epoch_losses = train(model, *train_t[:3], epochs, args.batch, args.lr, args.seed, log)
    full, cand, eval_seconds = evaluate(model, *val_t[:3], n_items, args.batch, args.candidates, args.seed)

    train_seconds = sum(epoch_seconds)
    result = {
        "implementation": "pytorch",
        "torch_version": torch.__version__,
        "attention": attention,
        "threads": torch.get_num_threads(),
        "dataset": dataset,
        "n_items": n_items,
        "rows": {"train": train_t[3]["rows"], "val": val_t[3]["rows"]},
        "data_notes": {"train": train_t[3], "val": val_t[3]},
        "shapes": {"batch": args.batch, "max_len": args.max_len, "d": args.hidden, "layers": args.layers,
                   "heads": args.heads, "inner": args.inner},
        "hyper": {"lr": args.lr, "hidden_dropout": args.hidden_dropout, "attn_dropout": args.attn_dropout,
                  "seed": args.seed},
        "epochs": epochs,
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / epochs,
        "train_sequences_per_s": train_t[3]["rows"] * epochs / train_seconds,
        "eval_seconds": eval_seconds,
        "eval_users_per_s": val_t[3]["rows"] / eval_seconds,
        "train_loss_per_epoch": epoch_losses,
        "metrics": {f"candidates{args.candidates}": cand, "full_catalog": full},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
