// Scheduler, part: where queued jobs go. Placement of jobs of one replica and of gangs on free
// slots, the backfill rule for jobs behind a waiting gang, and the start of an attempt.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/job_spec_defaults.h"
#include "common/timestamps.h"
#include "server/scheduler.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::Job;

std::vector<Scheduler::WorkerState*> Scheduler::FreeWorkersLocked(DeviceNeed need, int count,
                                                                  const std::string& job_id,
                                                                  bool without_gpu, int threads,
                                                                  bool avoid_given_back) {
  std::vector<WorkerState*> free;
  int exact_fits = 0;
  for (auto& [session, worker] : workers_) {
    if (!worker.HasFreeSlot() || (need == DeviceNeed::kCuda && !worker.cuda) ||
        (without_gpu && worker.cuda) || worker.stopping.count(job_id) != 0 ||
        worker.threads_per_job < threads ||
        (avoid_given_back && worker.gave_back.count(job_id) != 0)) {
      continue;
    }
    free.push_back(&worker);
    // Asked whether any is free (threads 0), or found enough that fit exactly: no narrower one
    // can come later.
    if (static_cast<int>(free.size()) == count && threads == 0) break;
    if (worker.threads_per_job <= threads && ++exact_fits == count) break;
  }
  // Narrowest fit: the workers that give the fewest threads per job first (in connection order
  // among equals), so that a job of one thread does not take the slot that a wider job behind it
  // is the only one able to use.
  std::stable_sort(free.begin(), free.end(), [](const WorkerState* a, const WorkerState* b) {
    return a->threads_per_job < b->threads_per_job;
  });
  if (static_cast<int>(free.size()) > count) free.resize(count);
  return free;
}

bool Scheduler::AnotherWorkerCouldRunLocked(const JobQueue::Entry& entry) const {
  for (const auto& [session, worker] : workers_) {
    if (worker.draining || worker.gave_back.count(entry.job_id) != 0 ||
        (entry.need == DeviceNeed::kCuda && !worker.cuda) ||
        worker.threads_per_job < entry.threads) {
      continue;
    }
    return true;
  }
  return false;
}

std::vector<Scheduler::WorkerState*> Scheduler::GangWorkersLocked(const JobQueue::Entry& gang) {
  if (!gang.any_device) {
    return FreeWorkersLocked(gang.need, gang.replicas, gang.job_id, false, gang.threads);
  }
  std::vector<WorkerState*> gpus =
      FreeWorkersLocked(DeviceNeed::kCuda, gang.replicas, gang.job_id, false, gang.threads);
  if (static_cast<int>(gpus.size()) == gang.replicas) return gpus;
  return FreeWorkersLocked(DeviceNeed::kAny, gang.replicas, gang.job_id, /*without_gpu=*/true,
                           gang.threads);
}

bool Scheduler::StoppedLocked(int64_t session, const std::string& job_id) {
  auto worker = workers_.find(session);
  return worker != workers_.end() && worker->second.stopping.erase(job_id) > 0;
}

std::optional<JobQueue::Entry> Scheduler::DecidingGangLocked(Clock::time_point now,
                                                             std::vector<WorkerState*>* workers) {
  for (const JobQueue::Entry& waiting : queue_.Gangs()) {
    *workers = GangWorkersLocked(waiting);
    if (static_cast<int>(workers->size()) == waiting.replicas) return waiting;
    workers->clear();
    if (HoldsTheLineLocked(waiting, now)) return waiting;
  }
  return std::nullopt;
}

bool Scheduler::HoldsTheLineLocked(const JobQueue::Entry& gang, Clock::time_point now) {
  if (now - gang.queued_at < std::chrono::duration<double>(options_.gang_backfill_seconds)) {
    return false;
  }
  int with_gpu = 0, without_gpu = 0;  // connected workers that give it its threads, busy or not
  for (const auto& [session, worker] : workers_) {
    if (worker.threads_per_job >= gang.threads) (worker.cuda ? with_gpu : without_gpu) += 1;
  }
  const int could_run = gang.need == DeviceNeed::kCuda ? with_gpu
                        : gang.any_device              ? std::max(with_gpu, without_gpu)
                                                       : with_gpu + without_gpu;
  return could_run >= gang.replicas;
}

std::string Scheduler::WaitingFor(const Job& job) {
  if (job.state() != polytrain::v1::JOB_STATE_QUEUED) return "";  // a listing's most jobs: no lock
  std::lock_guard<std::mutex> lock(mu_);
  return WaitingForLocked(job);
}

std::string Scheduler::WaitingForLocked(const Job& job) {
  if (job.state() != polytrain::v1::JOB_STATE_QUEUED || !queue_.Contains(job.id())) return "";
  const DeviceNeed need = DeviceNeedOf(job.spec());
  const int replicas = std::max(1, job.spec().replicas());
  const int threads = Threads(job.spec());
  // Workers that take jobs (a draining one takes none), with and without a GPU; of those, the
  // ones that give it its threads and their slots free now; and the most threads a worker of the
  // device it needs gives.
  int connected = 0, gpus = 0, with_gpu = 0, without_gpu = 0, free_with_gpu = 0;
  int free_without_gpu = 0, draining = 0, most_threads = 0;
  for (const auto& [session, worker] : workers_) {
    if (worker.draining) {
      ++draining;
      continue;
    }
    ++connected;
    gpus += worker.cuda ? 1 : 0;
    if (need != DeviceNeed::kCuda || worker.cuda) {
      most_threads = std::max(most_threads, worker.threads_per_job);
    }
    if (worker.threads_per_job < threads) continue;
    (worker.cuda ? with_gpu : without_gpu) += 1;
    if (worker.HasFreeSlot()) (worker.cuda ? free_with_gpu : free_without_gpu) += 1;
  }
  const std::string draining_note =
      draining > 0 ? absl::StrCat(" (", draining, " more shutting down)") : "";
  if (connected == 0) return absl::StrCat("no worker is connected", draining_note);
  // A gang of DEVICE_ANY runs all on GPUs or all without.
  const bool any_device_gang =
      need == DeviceNeed::kAny && replicas > 1 && job.spec().device() == polytrain::v1::DEVICE_ANY;
  const int able = need == DeviceNeed::kCuda ? with_gpu
                   : any_device_gang         ? std::max(with_gpu, without_gpu)
                                             : with_gpu + without_gpu;
  const int free = need == DeviceNeed::kCuda ? free_with_gpu
                   : any_device_gang         ? std::max(free_with_gpu, free_without_gpu)
                                             : free_with_gpu + free_without_gpu;
  const std::string of_connected =
      absl::StrCat(connected, " connected worker", connected == 1 ? "" : "s", draining_note);
  if (need == DeviceNeed::kCuda && gpus == 0) {
    return absl::StrCat("needs a worker with a GPU (spec.device); none of the ", of_connected,
                        connected == 1 ? " has one" : " have one");
  }
  if (able == 0) {  // workers of its device are there, but none gives it its threads
    const int of_device = need == DeviceNeed::kCuda ? gpus : connected;
    return absl::StrCat(
        "needs a worker that gives each job ", threads, " threads (spec.threads); the ",
        of_device == connected ? of_connected
                               : absl::StrCat(of_device, " with a GPU of the ", of_connected),
        of_device == 1 ? " gives " : " give at most ", most_threads,
        of_device == 1 ? " (its --threads divided by its --slots)"
                       : " (their --threads divided by their --slots)");
  }
  if (replicas > able) {
    return absl::StrCat("needs ", replicas, " workers at once (spec.replicas); ", able, " of the ",
                        of_connected, " can run it",
                        any_device_gang ? " (a gang's ranks all have a GPU or all lack one)" : "");
  }
  if (free < replicas) {
    return replicas > 1
               ? absl::StrCat("waiting for ", replicas, " workers free at once; ", free, " of the ",
                              able, " that can run it ", free == 1 ? "is" : "are", " free now")
               : absl::StrCat("every worker that can run it is busy (", able, " of the ",
                              of_connected, ")");
  }
  if (!placement_failure_.empty()) {
    return absl::StrCat("the coordinator cannot write its database (", placement_failure_,
                        "); placement is tried again every ", kStoreBackoff.count(), " s");
  }
  // The gang placement stops at (DecidingGangLocked), when it holds the line and is queued before
  // this job: nothing behind it starts until it has its workers, but a job of one replica that
  // needs no GPU behind a gang that needs GPUs.
  std::vector<WorkerState*> gang_workers;
  const std::optional<JobQueue::Entry> self = queue_.Find(job.id());
  const std::optional<JobQueue::Entry> gang = DecidingGangLocked(Clock::now(), &gang_workers);
  if (self.has_value() && gang.has_value() && gang_workers.empty() &&
      gang->job_id != self->job_id && JobQueue::Before(*gang, *self)) {
    const std::string held =
        absl::StrCat("held behind ", gang->job_id, " (", gang->replicas,
                     " replicas, queued before it), which waits for its workers at once: ");
    if (self->replicas == 1 && gang->need == DeviceNeed::kCuda && self->need != DeviceNeed::kCuda) {
      return absl::StrCat(held,
                          "meanwhile a job that needs no GPU starts only on a worker "
                          "without one, and none of those is free");
    }
    return absl::StrCat(held, "after its first ", options_.gang_backfill_seconds,
                        " s (coordinator flag --gang_backfill_seconds) nothing queued behind "
                        "a gang starts before it");
  }
  // Slots are free: jobs before it in the queue take them first, or a worker still stops the
  // job's previous attempt.
  return "jobs queued before it are starting first";
}

std::vector<Job> Scheduler::ScheduleLocked() {
  // Only this pass's failure counts: a job placed, cancelled or deleted since, or no free
  // worker now, leaves nothing to retry.
  placement_failure_.clear();
  std::vector<Job> started;
  const Clock::time_point now = Clock::now();
  // Jobs whose free workers are still stopping their previous attempt, or give fewer threads
  // than they ask for: passed over, so that they do not hold up the jobs behind them.
  std::set<std::string> passed_over;
  while (true) {
    const std::vector<WorkerState*> free_cuda = FreeWorkersLocked(DeviceNeed::kCuda, 1);
    const std::vector<WorkerState*> free_any = FreeWorkersLocked(DeviceNeed::kAny, 1);
    if (free_any.empty()) break;
    // The first job of one replica that a free worker can run, and the first gang (in queue
    // order) that fits now; a gang that holds the line stops the search at itself.
    std::optional<JobQueue::Entry> next = queue_.Next(!free_cuda.empty(), passed_over);
    std::optional<JobQueue::Entry> gang, barrier;
    std::vector<WorkerState*> gang_workers;
    if (std::optional<JobQueue::Entry> deciding = DecidingGangLocked(now, &gang_workers)) {
      (gang_workers.empty() ? barrier : gang) = std::move(deciding);
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
      // Not on a worker still stopping its previous attempt (it would not start this one), nor
      // on one that gives it fewer threads than it asks for, nor on one that gave it back while
      // another could run it.
      const std::vector<WorkerState*> chosen =
          FreeWorkersLocked(next->need, 1, next->job_id, without_gpu, next->threads,
                            AnotherWorkerCouldRunLocked(*next));
      if (chosen.empty() && !FreeWorkersLocked(next->need, 1, "", without_gpu).empty()) {
        passed_over.insert(next->job_id);
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

bool Scheduler::PlacementFailedLocked(const absl::Status& status) {
  // Said once per outage, not at each of the lease loop's tries.
  if (!placement_failure_logged_) {
    spdlog::error("cannot place queued jobs: the store failed ({}); trying again every {} s",
                  std::string(status.message()), kStoreBackoff.count());
    placement_failure_logged_ = true;
  }
  placement_failure_ = std::string(status.message());
  // A refused write may have waited out SQLite's busy timeout under mu_: the lease loop leaves
  // the store alone for a while before it tries again.
  store_backoff_until_ = Clock::now() + kStoreBackoff;
  return false;  // the job stays queued
}

bool Scheduler::StartLocked(const JobQueue::Entry& entry, const std::vector<WorkerState*>& chosen,
                            std::vector<Job>* started) {
  absl::StatusOr<Job> job = store_->GetJob(entry.job_id);
  if (absl::IsNotFound(job.status())) {  // gone from the store: nothing to run
    queue_.Remove(entry.job_id);
    RefreshGaugesLocked();
    return true;
  }
  if (!job.ok()) return PlacementFailedLocked(job.status());
  job->set_state(polytrain::v1::JOB_STATE_RUNNING);
  job->set_attempts(job->attempts() + 1);
  job->set_worker(chosen[0]->hello.name());
  job->clear_rank_workers();
  if (chosen.size() > 1) {
    for (const WorkerState* worker : chosen) job->add_rank_workers(worker->hello.name());
  }
  *job->mutable_start_time() = NowTimestamp();
  job->set_resumed_from_step(0);  // until this attempt says where it starts (JobStarted)
  if (absl::Status s = store_->UpdateJob(*job); !s.ok()) return PlacementFailedLocked(s);
  if (placement_failure_logged_) {
    spdlog::info("placing jobs again: the store writes again");
    placement_failure_logged_ = false;
  }
  queue_.Remove(job->id());
  RunningJob& running = running_[job->id()];
  running = RunningJob{};
  running.attempt = job->attempts();
  running.job = *job;
  running.deadline = AttemptDeadline(*job);
  for (WorkerState* worker : chosen) {
    running.ranks.push_back(Rank{worker->session, worker->hello.name(), Clock::now() + Lease(),
                                 false, false, worker->key, worker->token.name, ""});
  }
  if (options_.metrics != nullptr) {
    options_.metrics->JobScheduled(
        std::chrono::duration<double>(Clock::now() - entry.queued_at).count());
  }
  CountTransitionLocked(polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING);
  watchers_.JobChanged(*job);
  std::vector<std::string> names;
  for (const WorkerState* worker : chosen) names.push_back(worker->hello.name());
  spdlog::info("{} ({}): attempt {} runs on {}", job->id(), job->spec().name(), job->attempts(),
               absl::StrJoin(names, ", "));
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
