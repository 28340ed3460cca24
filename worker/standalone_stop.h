// What ends a standalone run (polytrain-worker --spec) before its last step: SIGINT or SIGTERM
// asks for a release (TrainerOptions::release: a run with a checkpoint directory trains on to
// the end of its logging window, checkpoints there and stops; one without stops at its next
// step), and a second signal ends the process as usual; spec.time_limit_seconds cancels the run
// as the coordinator cancels an attempt past its limit. A run that has not ended kStuckSeconds
// after that cancel (stuck in its model's code, or in a file's loading, where nothing looks at
// the cancel) is ended with the process.
#ifndef POLYTRAIN_WORKER_STANDALONE_STOP_H_
#define POLYTRAIN_WORKER_STANDALONE_STOP_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace polytrain {

// How long a cancelled run (or job) may take to notice it before it is given up on.
inline constexpr int kStuckSeconds = 5;

class StandaloneStop {
 public:
  // Installs the SIGINT and SIGTERM handlers (one StandaloneStop per process) and starts the
  // clock of `time_limit_seconds` (0: no limit). `on_stuck` runs kStuckSeconds after the limit
  // passed if the run has not ended; it must end the process.
  StandaloneStop(int32_t time_limit_seconds, std::function<void()> on_stuck);
  // Stops the clock. The handlers stay: the process is about to exit.
  ~StandaloneStop();
  StandaloneStop(const StandaloneStop&) = delete;
  StandaloneStop& operator=(const StandaloneStop&) = delete;

  // For TrainerOptions::release and ::cancel.
  const std::atomic<bool>* release() const;
  const std::atomic<bool>* cancel() const { return &time_limit_passed_; }

  // "SIGINT" or "SIGTERM" once one asked for the release; empty before.
  std::string signal_name() const;
  bool time_limit_passed() const { return time_limit_passed_.load(); }

 private:
  std::atomic<bool> time_limit_passed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // under mu_: the destructor ends the clock
  std::thread clock_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_STANDALONE_STOP_H_
