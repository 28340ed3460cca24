// The threads a job computes with, owned by the worker: LibTorch's intra-op pool and the BLAS
// library's own pool. OpenBLAS (Debian's libblas.so.3 with libopenblas0-pthread) starts one
// thread per core whatever LibTorch is told, and both pools spin while they wait: with both at
// two threads on two cores they starve each other and an MLP step runs 4-5x slower than with one
// (BENCHMARKS.md). So a job's N threads go to one pool, the other gets one: to BLAS where the
// model's time is matrix products called one at a time (an MLP's linear layers), to LibTorch's
// pool where it is work LibTorch splits itself (convolutions, which then call BLAS per thread).
// Set here before the job's first matrix product, `threads: N` means N threads in all.
//
// The rule for a worker running several jobs at once (--slots): each job gets at most
// floor(cores / slots) threads (at least 1, api/worker_threads.h), where cores is the worker's
// --threads (default: the machine's cores), so the threads of concurrent jobs never add up to
// more than the worker has, unless --slots exceeds --threads. The coordinator places a job only
// where it gets all it asks for.
#ifndef POLYTRAIN_WORKER_COMPUTE_THREADS_H_
#define POLYTRAIN_WORKER_COMPUTE_THREADS_H_

#include <string>

#include "api/worker_threads.h"  // ThreadsPerJob: the share of each slot

namespace polytrain {

// The threads a job asking for `requested` (>= 1) gets under `limit`.
int JobThreads(int requested, int limit);

// Which pool a job's threads go to.
enum class ThreadPool { kLibTorch, kBlas };

// Gives `threads` to `pool` and one to the other: LibTorch's intra-op threads, and the BLAS
// library's (OpenBLAS, when it is the one loaded; found at run time, so another BLAS is left
// alone). BLAS threads are per process: with several slots, the job that started last sets them
// for all. Returns what it set, in words, for the job's log: "1 LibTorch thread, 2 OpenBLAS".
std::string SetComputeThreads(int threads, ThreadPool pool);

// The machine's cores as LibTorch sees them (its default intra-op thread count).
int MachineCores();

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_COMPUTE_THREADS_H_
