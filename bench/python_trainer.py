#!/usr/bin/python3
"""The Python PyTorch baseline for bench/trainer_bench.sh.

Trains the same model as a PolyTrain JobSpec (MLP 784-256-256-10 or the CNN of
examples/jobs/fashion_mnist_cnn_poly1.txtpb) on Fashion-MNIST decoded once into one tensor, with
the same per-step work as the C++ trainer: a randperm gather per batch, forward, cross-entropy,
backward, SGD with Nesterov momentum, loss.item() and the batch accuracy. Prints one JSON line.
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def model_for(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").copy())
    x = x.unsqueeze(1).float().div_(255.0)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").copy()).long()
    model = model_for(args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    n = x.shape[0]
    order = torch.randperm(n)
    position = 0
    train_seconds = 0.0
    for _ in range(args.steps):
        start = time.perf_counter()
        if position + args.batch > n:
            order = torch.randperm(n)
            position = 0
        index = order[position:position + args.batch]
        position += args.batch
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        for group in optimizer.param_groups:
            group["lr"] = 0.05
        optimizer.zero_grad()
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss_value = loss.item()
        loss.backward()
        optimizer.step()
        correct = logits.argmax(1).eq(yb).sum().item()
        train_seconds += time.perf_counter() - start
    print(json.dumps({"model": args.model, "steps": args.steps, "batch": args.batch,
                      "threads": args.threads, "loss": loss_value, "correct": correct,
                      "samples_per_second": args.steps * args.batch / train_seconds}))


if __name__ == "__main__":
    main()
