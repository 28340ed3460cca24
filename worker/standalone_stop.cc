#include "worker/standalone_stop.h"

#include <chrono>
#include <csignal>
#include <utility>

namespace polytrain {
namespace {

// Written by the handler: lock-free atomics are async-signal-safe.
std::atomic<bool> release_requested{false};
std::atomic<int> release_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

void RequestRelease(int signal) {
  release_signal = signal;
  release_requested = true;
}

}  // namespace

StandaloneStop::StandaloneStop(int32_t time_limit_seconds, std::function<void()> on_stuck) {
  struct sigaction release = {};
  release.sa_handler = RequestRelease;
  sigemptyset(&release.sa_mask);
  // The handler runs once: a second Ctrl-C ends a run that does not stop soon enough.
  release.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &release, nullptr);
  sigaction(SIGTERM, &release, nullptr);
  if (time_limit_seconds <= 0) return;
  clock_ = std::thread([this, time_limit_seconds, on_stuck = std::move(on_stuck)] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(time_limit_seconds),
                     [this] { return stopping_; })) {
      return;
    }
    time_limit_passed_ = true;
    if (!cv_.wait_for(lock, std::chrono::seconds(kStuckSeconds), [this] { return stopping_; })) {
      on_stuck();
    }
  });
}

StandaloneStop::~StandaloneStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (clock_.joinable()) clock_.join();
}

const std::atomic<bool>* StandaloneStop::release() const { return &release_requested; }

std::string StandaloneStop::signal_name() const {
  if (!release_requested) return "";
  return release_signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace polytrain
