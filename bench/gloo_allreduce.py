"""The baseline of the data-parallel benchmark: Python PyTorch's torch.distributed all-reduce
(Gloo, two processes on loopback, Debian's python3-torch) of the bytes PolyTrain's gangs send
per step, timed the way DistributedDataParallel would pay for it without overlap.

Usage: /usr/bin/python3 bench/gloo_allreduce.py [FLOATS...]   (default: the MLP's and the CNN's
gradients plus the loss, 269323 and 421643 floats, and 1000 floats for the latency alone)
"""
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank, port, sizes, repeats):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    for n in sizes:
        t = torch.ones(n)
        for _ in range(10):
            dist.all_reduce(t)
        start = time.perf_counter()
        for _ in range(repeats):
            dist.all_reduce(t)
        if rank == 0:
            ms = (time.perf_counter() - start) / repeats * 1000
            print(f"{4 * n:>9} bytes: {ms:.3f} ms per all-reduce (torch.distributed gloo, 2 ranks)")
    dist.destroy_process_group()


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 269323, 421643]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(run, args=(port, sizes, 200), nprocs=2)
