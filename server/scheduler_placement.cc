// Scheduler, part: where queued jobs go. Placement of jobs of one replica and of gangs on free
// slots, the backfill rule for jobs behind a waiting gang, and the start of an attempt.
#include <algorithm>
#include <set>

#include "common/timestamps.h"
#include "server/scheduler.h"

namespace polytrain {

using polytrain::v1::Job;

std::vector<Scheduler::WorkerState*> Scheduler::FreeWorkersLocked(DeviceNeed need, int count,
                                                                  const std::string& job_id,
                                                                  bool without_gpu) {
  std::vector<WorkerState*> free;
  for (auto& [session, worker] : workers_) {
    if (static_cast<int>(free.size()) == count) break;
    if (!worker.HasFreeSlot() || (need == DeviceNeed::kCuda && !worker.cuda) ||
        (without_gpu && worker.cuda) || worker.stopping.count(job_id) != 0) {
      continue;
    }
    free.push_back(&worker);
  }
  return free;
}

std::vector<Scheduler::WorkerState*> Scheduler::GangWorkersLocked(const JobQueue::Entry& gang) {
  if (!gang.any_device) return FreeWorkersLocked(gang.need, gang.replicas, gang.job_id);
  std::vector<WorkerState*> gpus = FreeWorkersLocked(DeviceNeed::kCuda, gang.replicas, gang.job_id);
  if (static_cast<int>(gpus.size()) == gang.replicas) return gpus;
  return FreeWorkersLocked(DeviceNeed::kAny, gang.replicas, gang.job_id, /*without_gpu=*/true);
}

bool Scheduler::StoppedLocked(int64_t session, const std::string& job_id) {
  auto worker = workers_.find(session);
  return worker != workers_.end() && worker->second.stopping.erase(job_id) > 0;
}

bool Scheduler::HoldsTheLineLocked(const JobQueue::Entry& gang, Clock::time_point now) {
  if (now - gang.queued_at < std::chrono::duration<double>(options_.gang_backfill_seconds)) {
    return false;
  }
  int with_gpu = 0, without_gpu = 0;  // connected workers, busy or not
  for (const auto& [session, worker] : workers_) (worker.cuda ? with_gpu : without_gpu) += 1;
  const int could_run = gang.need == DeviceNeed::kCuda ? with_gpu
                        : gang.any_device              ? std::max(with_gpu, without_gpu)
                                                       : with_gpu + without_gpu;
  return could_run >= gang.replicas;
}

std::vector<Job> Scheduler::ScheduleLocked() {
  std::vector<Job> started;
  const Clock::time_point now = Clock::now();
  // Jobs whose only free workers are still stopping their previous attempt: passed over, so
  // that they do not hold up the jobs behind them.
  std::set<std::string> waiting_for_stop;
  while (true) {
    const std::vector<WorkerState*> free_cuda = FreeWorkersLocked(DeviceNeed::kCuda, 1);
    const std::vector<WorkerState*> free_any = FreeWorkersLocked(DeviceNeed::kAny, 1);
    if (free_any.empty()) break;
    // The first job of one replica that a free worker can run, and the first gang (in queue
    // order) that fits now; a gang that holds the line stops the search at itself.
    std::optional<JobQueue::Entry> next = queue_.Next(!free_cuda.empty(), waiting_for_stop);
    std::optional<JobQueue::Entry> gang, barrier;
    std::vector<WorkerState*> gang_workers;
    for (const JobQueue::Entry& waiting : queue_.Gangs()) {
      gang_workers = GangWorkersLocked(waiting);
      if (static_cast<int>(gang_workers.size()) == waiting.replicas) {
        gang = waiting;
        break;
      }
      if (HoldsTheLineLocked(waiting, now)) {
        barrier = waiting;
        break;
      }
    }
    if (next.has_value() && gang.has_value() && JobQueue::Before(*gang, *next)) next.reset();
    // Behind a gang that holds the line, a job may still start on a worker the gang could never
    // use: one without a GPU, when the gang needs GPUs.
    bool without_gpu = false;
    if (next.has_value() && barrier.has_value() && JobQueue::Before(*barrier, *next)) {
      if (barrier->need != DeviceNeed::kCuda || next->need == DeviceNeed::kCuda) break;
      without_gpu = true;
    }
    if (next.has_value()) {
      // Not on a worker still stopping its previous attempt (it would not start this one).
      const std::vector<WorkerState*> chosen =
          FreeWorkersLocked(next->need, 1, next->job_id, without_gpu);
      if (chosen.empty() && !FreeWorkersLocked(next->need, 1, "", without_gpu).empty()) {
        waiting_for_stop.insert(next->job_id);
        continue;
      }
      if (chosen.empty() || !StartLocked(*next, chosen, &started)) break;
    } else if (gang.has_value()) {
      if (!StartLocked(*gang, gang_workers, &started)) break;
    } else {
      break;
    }
  }
  return started;
}

bool Scheduler::StartLocked(const JobQueue::Entry& entry, const std::vector<WorkerState*>& chosen,
                            std::vector<Job>* started) {
  absl::StatusOr<Job> job = store_->GetJob(entry.job_id);
  if (absl::IsNotFound(job.status())) {  // gone from the store: nothing to run
    queue_.Remove(entry.job_id);
    RefreshGaugesLocked();
    return true;
  }
  if (!job.ok()) return false;  // the store failed: the job stays queued for the next event
  job->set_state(polytrain::v1::JOB_STATE_RUNNING);
  job->set_attempts(job->attempts() + 1);
  job->set_worker(chosen[0]->hello.name());
  job->clear_rank_workers();
  if (chosen.size() > 1) {
    for (const WorkerState* worker : chosen) job->add_rank_workers(worker->hello.name());
  }
  *job->mutable_start_time() = NowTimestamp();
  if (!store_->UpdateJob(*job).ok()) return false;
  queue_.Remove(job->id());
  RunningJob& running = running_[job->id()];
  running = RunningJob{};
  running.attempt = job->attempts();
  running.job = *job;
  running.deadline = AttemptDeadline(*job);
  for (WorkerState* worker : chosen) {
    running.ranks.push_back(Rank{worker->session, worker->hello.name(), Clock::now() + Lease()});
  }
  if (options_.metrics != nullptr) {
    options_.metrics->JobScheduled(
        std::chrono::duration<double>(Clock::now() - entry.queued_at).count());
  }
  CountTransitionLocked(polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING);
  watchers_.JobChanged(*job);
  for (size_t rank = 0; rank < chosen.size(); ++rank) {
    chosen[rank]->running.insert(job->id());
    polytrain::v1::CoordinatorMessage assignment;
    *assignment.mutable_assignment()->mutable_job() = *job;
    if (chosen.size() > 1) {
      assignment.mutable_assignment()->set_rank(static_cast<int32_t>(rank));
      assignment.mutable_assignment()->set_world_size(static_cast<int32_t>(chosen.size()));
    }
    chosen[rank]->channel->Send(assignment);
  }
  started->push_back(*std::move(job));
  return true;
}

}  // namespace polytrain
