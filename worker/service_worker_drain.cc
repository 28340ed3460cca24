// ServiceWorker::Drain: a stopping worker gives its running jobs back to the coordinator.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

#include "worker/service_worker.h"

namespace polytrain {

void ServiceWorker::Drain(std::chrono::duration<double> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    draining_ = true;
    for (auto& [id, job] : jobs_) {
      if (!job->done()) job->Release();
    }
  }
  // A job stops where its logging window ends, checkpointed (or at its next step, or data load,
  // where it writes no checkpoint): then its result is queued and sent. One still going when
  // little of the time is left (a long window, slow steps, an upload) is cancelled, still as
  // given back, so that its report reaches the coordinator before the stream closes: the job is
  // requeued at once, from its last stored checkpoint, and the attempt does not count.
  const auto cut_off =
      deadline - std::min<std::chrono::duration<double>>(std::chrono::seconds(5), timeout / 4);
  bool cut = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!cut && std::chrono::steady_clock::now() >= cut_off) {
      cut = true;
      std::lock_guard<std::mutex> lock(jobs_mu_);
      for (auto& [id, job] : jobs_) {
        if (!job->done()) job->Cancel();
      }
    }
    uint64_t last_result = 0;
    bool all_done = true;
    {
      std::lock_guard<std::mutex> lock(jobs_mu_);
      last_result = given_back_sequence_;
      for (const auto& [id, job] : jobs_) {
        all_done = all_done && (job->done() || job->abandoned());
        last_result = std::max<uint64_t>(last_result, job->result_sequence());
      }
    }
    if (all_done &&
        (last_result == 0 ||
         outbox_.WaitAcknowledged(last_result, deadline - std::chrono::steady_clock::now()))) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a stopping job: soon done
  }
  Stop();
}

}  // namespace polytrain
