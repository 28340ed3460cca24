// Runs successive-halving searches: hears from the scheduler when a trial pauses at a rung or
// ends, decides (successive_halving.h) which paused trials go up a rung, resumes them through the
// scheduler, stops the rest when nothing more can go up ("stopped by search"), then submits the
// re-runs of the best configurations and of the baseline (LossSearch.top_k), and marks the sweep
// done when they end. Everything it decides follows from the sweep's stored record and its jobs,
// so a coordinator that restarts simply decides again (Recover). It also cancels sweeps (any
// strategy): a cancelled sweep is decided for no more; and marks a grid or a random search done
// once its jobs have ended.
#ifndef POLYTRAIN_SERVER_SEARCH_CONTROLLER_H_
#define POLYTRAIN_SERVER_SEARCH_CONTROLLER_H_

#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "api/limits.h"
#include "server/job_store.h"
#include "server/scheduler.h"

namespace polytrain {

class SearchController {
 public:
  // Both must outlive this; registers itself as the scheduler's sweep listener. A promoted
  // trial's priority rises above its search's base priority by its rung, to at most
  // `max_promoted_priority` (--max_client_priority: a promotion never lifts a client's trial
  // past what it could have asked for; a search whose own priority is above it, an admin's,
  // rises to 1000).
  SearchController(JobStore* store, Scheduler* scheduler, int max_promoted_priority = kMaxPriority);
  ~SearchController();

  // Decides again for every sweep not done (after a restart, an event may have been missed).
  void Recover();
  // A trial of `sweep_id` paused or ended (or any job of a grid ended): decides now, or (when
  // another thread is deciding) right after that thread's decision, on that thread.
  void SweepChanged(const std::string& sweep_id);
  // CancelSweep: marks the sweep SWEEP_STATE_CANCELLED, then cancels each of its jobs that has
  // not ended; returns how many it cancelled. The caller checked that it may, and that the sweep
  // is not done.
  absl::StatusOr<int> Cancel(const polytrain::v1::Sweep& record);

 private:
  absl::Status Advance(const std::string& sweep_id);
  // Cancels the jobs of a cancelled sweep that have not ended (a job that ends meanwhile is
  // passed over); how many.
  absl::StatusOr<int> CancelUnendedJobs(const std::string& sweep_id);
  // The search's rungs to the coordinator's Prometheus series, if it has them.
  void Publish(const std::string& sweep_id);

  JobStore* const store_;
  Scheduler* const scheduler_;
  const int max_promoted_priority_;
  std::mutex mu_;
  std::set<std::string> pending_;
  bool deciding_ = false;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SEARCH_CONTROLLER_H_
