// A call to the coordinator tried again while the coordinator is away (IsCoordinatorAway): a
// job's transfers (the artifacts it names, its stored checkpoint, its last checkpoint's upload)
// wait out a coordinator restart rather than fail the job.
#ifndef POLYTRAIN_WORKER_COORDINATOR_RETRY_H_
#define POLYTRAIN_WORKER_COORDINATOR_RETRY_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace polytrain {

// One per job. Its waits end early on Wake() (the job was cancelled or released) and on
// CoordinatorBack() (the worker's stream was welcomed again: the next try goes now, not after
// the rest of the backoff).
class CoordinatorRetry {
 public:
  struct Options {
    std::chrono::milliseconds first_backoff{200};
    std::chrono::milliseconds max_backoff{5000};  // the backoff doubles up to this
    std::chrono::steady_clock::duration give_up_after = std::chrono::minutes(2);
  };

  CoordinatorRetry() : CoordinatorRetry(Options{}) {}
  explicit CoordinatorRetry(Options options) : options_(options) {}

  // `call` until it succeeds or fails otherwise than with the coordinator away, `stopping()`
  // turns true (checked after each try and on each Wake()), or `give_up_after` has passed since
  // the first try: returns the last try's status. `stopping()` true also means a CANCELLED status
  // is this side's own cancel, not the coordinator's. `what` heads the log line of each retry
  // (the job's id).
  absl::Status Run(const std::string& what, const std::function<absl::Status()>& call,
                   const std::function<bool()>& stopping);

  // The worker's stream was welcomed again: a try waiting in its backoff goes now, and the
  // backoff starts again from first_backoff.
  void CoordinatorBack();
  // `stopping()` may have changed: a waiting try checks it now.
  void Wake();

 private:
  const Options options_;
  std::atomic<uint64_t> welcomes_{0};  // CoordinatorBack() calls
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_COORDINATOR_RETRY_H_
