#!/usr/bin/python3
"""What copying evaluation's batches costs a TorchScript model's evaluation.

worker/scripted_model.cc hands a user's module a copy of each evaluation batch (a slice of the
stored split), so that a forward that changes its input in place cannot rewrite the split. This
times one evaluation pass over Fashion-MNIST's 10,000 test images (batches of 1024, evaluation's
default; eval mode, no gradients, one thread) of bench/python_trainer.py's MLP and CNN, scripted,
with the slices given as they are and as copies, in interleaved rounds, with the same LibTorch
the worker links (Debian's python3-torch). Prints the medians and their ratio.
Usage: bench/eval_copy_bench.py [ROUNDS]
"""
import statistics
import sys
import time

import torch

sys.path.insert(0, "bench")
from python_trainer import model_for, read_idx  # noqa: E402


def evaluation_seconds(module, images, copy):
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, images.size(0), 1024):
            batch = images.narrow(0, begin, min(1024, images.size(0) - begin))
            module(batch.clone() if copy else batch)
    return time.perf_counter() - start


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    torch.set_num_threads(1)
    torch.manual_seed(0)
    pixels = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    images = pixels.unsqueeze(1).float() / 255
    print(f"eval copy bench: 10000 Fashion-MNIST test images, batches of 1024, 1 thread, "
          f"medians of {rounds} interleaved rounds")
    print("model  as given s  copied s  copied/as given")
    for kind in ("mlp", "cnn"):
        module = torch.jit.script(model_for(kind)).eval()
        evaluation_seconds(module, images, copy=False)  # warm-up
        given, copied = [], []
        for _ in range(rounds):
            given.append(evaluation_seconds(module, images, copy=False))
            copied.append(evaluation_seconds(module, images, copy=True))
        a, b = statistics.median(given), statistics.median(copied)
        print(f"{kind:5} {a:10.4f} {b:9.4f} {b / a:10.3f}x")


if __name__ == "__main__":
    main()
