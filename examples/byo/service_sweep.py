#!/usr/bin/python3
"""From a Python model to a loss comparison through the service, without C++: script a small
ResNet, save Fashion-MNIST as a tensor file, upload both, sweep three losses and print the
comparison. Needs a running coordinator and worker (README: "Run the service") and the client
package on the path:

  PYTHONPATH=build/python python3 examples/byo/service_sweep.py [--coordinator HOST:PORT]
      [--steps N] [--seeds N] [--threads N]
"""
import argparse
import os
import sys
import tempfile

import torch

from polytrain import Client, state_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_and_data import SmallResNet, fashion_mnist_tensors  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coordinator", default=None, help="HOST:PORT (default: "
                        "$POLYTRAIN_COORDINATOR, else 127.0.0.1:50051)")
    parser.add_argument("--steps", type=int, default=300,
                        help="training steps of each job (default: 300)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="runs of each loss, one seed each (default: 1)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of each job (default: 2); a worker must give each job that "
                        "many (its --threads divided by its --slots), else the jobs wait")
    args = parser.parse_args()

    client = Client(args.coordinator)
    model = client.upload(torch.jit.script(SmallResNet()), name="resnet.pt")
    with tempfile.TemporaryDirectory() as scratch:
        torch.save(fashion_mnist_tensors(), f"{scratch}/fashion_mnist.pt")
        data = client.upload(f"{scratch}/fashion_mnist.pt")
    print(f"model {model.id} ({model.size_bytes} bytes)\ndata  {data.id} ({data.size_bytes} bytes)")

    base = {
        "name": "py-resnet",
        "model": {"torchscript": {"artifact": model.id}},
        "dataset": {"tensors": {"artifact": data.id}, "test_limit": 2000},
        "optimizer": {"sgd": {"momentum": 0.9, "nesterov": True}, "learning_rate": 0.05,
                      "weight_decay": 5e-4},
        "schedule": {"cosine": {"min_factor": 0.02}, "warmup_steps": 30},
        "max_steps": args.steps, "batch_size": 128, "seed": 1,
        "threads": args.threads,
    }
    losses = ["cross_entropy {}", "poly1 { epsilon: 2 }", "focal { gamma: 2 }"]
    sweep = client.sweep(base, losses, seeds=args.seeds)
    print(f"{sweep.sweep_id}: {len(sweep.jobs)} jobs")
    for job in sweep.jobs:
        said = ""  # why it waits, once per reason: a job no worker can take waits for ever
        for event in client.watch(job.id):
            waiting = event.job.waiting_for if event.HasField("job") else ""
            if waiting and waiting != said:
                print(f"  {job.spec.name}: waiting: {waiting}", flush=True)
                said = waiting
        ended = client.get(job.id)
        print(f"  {ended.spec.name}: {state_name(ended)}")

    print(f"\n{'loss':<12} {'runs':>4} {'accuracy':>9} {'ece':>7}")
    per_job = client.compare(sweep_id=sweep.sweep_id, per_job=True)
    for row in client.compare(sweep_id=sweep.sweep_id):
        ece = [r["eval_ece"] for r in per_job
               if r["loss_name"] == row["loss_name"] and "eval_ece" in r]
        print(f"{row['loss_name']:<12} {row['runs']:>4} {row['mean']:>9.4f} "
              f"{sum(ece) / max(len(ece), 1):>7.4f}")


if __name__ == "__main__":
    main()
