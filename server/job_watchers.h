// Who is watching which job (WatchJob streams), and sending them what happens to it: every state
// change and metric point, then the end of the watch once the job's state is final. Not locked:
// the scheduler calls it under its own lock, so that no event falls between the history a
// watcher reads (WatchStart) and its live feed.
#ifndef POLYTRAIN_SERVER_JOB_WATCHERS_H_
#define POLYTRAIN_SERVER_JOB_WATCHERS_H_

#include <map>
#include <optional>
#include <set>
#include <string>

#include "api/job_states.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/job_store.h"

namespace polytrain {

// Where a watch starts: the job as it was, and the newest metric point stored then. The history
// up to that point is the watcher's to read (JobStore::GetMetricsBetween, in pages); every
// event after it reaches the watcher live.
struct WatchStart {
  polytrain::v1::Job job;
  std::optional<MetricKey> history_through;  // none: no history
};

// Receives a watched job's events. OnEvent must not block or call back; OnEnd follows the job's
// final state; OnShutdown ends the watch early, the coordinator going away.
class JobWatcher {
 public:
  virtual ~JobWatcher() = default;
  virtual void OnEvent(const polytrain::v1::JobEvent& event) = 0;
  virtual void OnEnd() = 0;
  virtual void OnShutdown() { OnEnd(); }
};

class JobWatchers {
 public:
  void Add(const std::string& job_id, JobWatcher* watcher) { watchers_[job_id].insert(watcher); }
  // No event reaches `watcher` after this (nor OnEnd).
  void Remove(const std::string& job_id, JobWatcher* watcher);

  // The job after a state change; a final state ends its watchers' watch.
  void JobChanged(const polytrain::v1::Job& job);
  void PointAdded(const std::string& job_id, const polytrain::v1::MetricPoint& point);
  // Ends every watch: with OnShutdown (the coordinator is shutting down), or OnEnd.
  void EndAll(bool shutting_down = false);

 private:
  std::map<std::string, std::set<JobWatcher*>> watchers_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_WATCHERS_H_
