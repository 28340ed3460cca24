#include "worker/coordinator_retry.h"

#include <algorithm>

#include "spdlog/spdlog.h"
#include "worker/coordinator_away.h"

namespace polytrain {

absl::Status CoordinatorRetry::Run(const std::string& what,
                                   const std::function<absl::Status()>& call,
                                   const std::function<bool()>& stopping) {
  const auto start = std::chrono::steady_clock::now();
  auto backoff = options_.first_backoff;
  while (true) {
    // Read before the call: a reconnect during it (the refusal of a restarted coordinator that
    // did not know the old session key yet) still cuts the wait below short.
    const uint64_t welcomes = welcomes_.load();
    absl::Status s = call();
    const bool stop = stopping();
    if (!IsCoordinatorAway(s, /*cancelled_here=*/stop) || stop ||
        std::chrono::steady_clock::now() - start >= options_.give_up_after) {
      return s;
    }
    spdlog::warn("{}: the coordinator is away ({}); trying again in {} ms or once reconnected",
                 what, std::string(s.message()), backoff.count());
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, backoff, [&] { return stopping() || welcomes_.load() != welcomes; });
    }
    if (stopping()) return s;
    backoff = welcomes_.load() != welcomes ? options_.first_backoff
                                           : std::min(backoff * 2, options_.max_backoff);
  }
}

void CoordinatorRetry::CoordinatorBack() {
  welcomes_.fetch_add(1);
  Wake();
}

void CoordinatorRetry::Wake() {
  // Under the lock: a waiter between its predicate check and its wait would miss a bare notify.
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

}  // namespace polytrain
