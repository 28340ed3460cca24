// How a worker shares its threads among its jobs: the worker sets each job's threads by this rule
// and the coordinator places a job only on a worker that gives it all its spec.threads, so that
// the same spec and seed train the same way on whichever worker takes them.
#ifndef POLYTRAIN_API_WORKER_THREADS_H_
#define POLYTRAIN_API_WORKER_THREADS_H_

namespace polytrain {

// A worker of `threads` threads in all (Hello.threads, its --threads) running `slots` jobs at once
// gives each floor(threads / slots), at least 1, so that its jobs' threads never add up to more
// than it has, unless it has more slots than threads (one each; the worker warns at start).
int ThreadsPerJob(int threads, int slots);

}  // namespace polytrain

#endif  // POLYTRAIN_API_WORKER_THREADS_H_
