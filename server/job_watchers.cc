#include "server/job_watchers.h"

namespace polytrain {

void JobWatchers::Remove(const std::string& job_id, JobWatcher* watcher) {
  auto it = watchers_.find(job_id);
  if (it == watchers_.end()) return;
  it->second.erase(watcher);
  if (it->second.empty()) watchers_.erase(it);
}

void JobWatchers::JobChanged(const polytrain::v1::Job& job) {
  auto it = watchers_.find(job.id());
  if (it == watchers_.end()) return;
  polytrain::v1::JobEvent event;
  *event.mutable_job() = job;
  for (JobWatcher* watcher : it->second) watcher->OnEvent(event);
  if (IsFinalState(job.state())) {
    for (JobWatcher* watcher : it->second) watcher->OnEnd();
    watchers_.erase(it);
  }
}

void JobWatchers::PointAdded(const std::string& job_id, const polytrain::v1::MetricPoint& point) {
  auto it = watchers_.find(job_id);
  if (it == watchers_.end()) return;
  polytrain::v1::JobEvent event;
  *event.mutable_point() = point;
  for (JobWatcher* watcher : it->second) watcher->OnEvent(event);
}

void JobWatchers::EndAll(bool shutting_down) {
  for (auto& [id, watchers] : watchers_) {
    for (JobWatcher* watcher : watchers) {
      if (shutting_down) {
        watcher->OnShutdown();
      } else {
        watcher->OnEnd();
      }
    }
  }
  watchers_.clear();
}

}  // namespace polytrain
