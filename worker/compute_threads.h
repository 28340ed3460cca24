// The threads a job computes with, owned by the worker: LibTorch's intra-op pool and the BLAS
// library's own pool. OpenBLAS (Debian's libblas.so.3 with libopenblas0-pthread) starts one
// thread per core whatever LibTorch is told; with both pools at two threads on two cores they
// fight and a step runs 4-5x slower than with one (BENCHMARKS.md). Setting both here, before the
// job's first matrix product, makes `threads: N` mean N threads in all.
//
// The rule for a worker running several jobs at once (--slots): each job gets at most
// floor(cores / slots) threads (at least 1), where cores is the worker's --threads (default: the
// machine's cores), so the threads of concurrent jobs never add up to more than the worker has.
#ifndef POLYTRAIN_WORKER_COMPUTE_THREADS_H_
#define POLYTRAIN_WORKER_COMPUTE_THREADS_H_

#include <string>

namespace polytrain {

// floor(cores / slots), at least 1; a job asking for more is given this many.
int ThreadsPerJob(int cores, int slots);

// The threads a job asking for `requested` (>= 1) gets under `limit`.
int JobThreads(int requested, int limit);

// Sets LibTorch's intra-op threads and the BLAS library's (OpenBLAS, when it is the one loaded;
// found at run time, so another BLAS is simply left alone). Returns what it set, in words, for
// the job's log: "2 LibTorch threads, 2 OpenBLAS threads".
std::string SetComputeThreads(int threads);

// The machine's cores as LibTorch sees them (its default intra-op thread count).
int MachineCores();

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_COMPUTE_THREADS_H_
