// What ends a standalone run (polytrain-worker --spec) before its last step: SIGINT or SIGTERM
// asks for a release (TrainerOptions::release: a run with a checkpoint directory trains on to
// the end of its logging window, checkpoints there and stops; one without stops at its next
// step), and a second signal ends the process as usual; spec.time_limit_seconds cancels the run
// as the coordinator cancels an attempt past its limit.
#ifndef POLYTRAIN_WORKER_STANDALONE_STOP_H_
#define POLYTRAIN_WORKER_STANDALONE_STOP_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace polytrain {

class StandaloneStop {
 public:
  // Installs the SIGINT and SIGTERM handlers (one StandaloneStop per process) and starts the
  // clock of `time_limit_seconds` (0: no limit).
  explicit StandaloneStop(int32_t time_limit_seconds);
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
