#include "server/job_retention.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/limits.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/coordinator_metrics.h"
#include "server/sweep_report.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// The jobs being deleted: a second deletion of one waits for the first (then finds it gone),
// deletions of others go on. Job ids are unique, so one set serves every core in the process.
class JobsBeingDeleted {
 public:
  class Hold {
   public:
    Hold(JobsBeingDeleted* jobs, std::string id) : jobs_(jobs), id_(std::move(id)) {}
    Hold(const Hold&) = delete;  // returned by Take, never copied: the id is freed once
    Hold& operator=(const Hold&) = delete;
    ~Hold() {
      std::lock_guard<std::mutex> lock(jobs_->mu_);
      jobs_->ids_.erase(id_);
      jobs_->ended_.notify_all();
    }

   private:
    JobsBeingDeleted* jobs_;
    std::string id_;
  };
  Hold Take(const std::string& id) {
    std::unique_lock<std::mutex> lock(mu_);
    ended_.wait(lock, [&] { return ids_.count(id) == 0; });
    ids_.insert(id);
    return Hold(this, id);
  }

 private:
  std::mutex mu_;
  std::condition_variable ended_;
  std::set<std::string> ids_;  // under mu_
};

}  // namespace

absl::StatusOr<polytrain::v1::DeleteJobResponse> DeleteEndedJob(Scheduler& scheduler,
                                                                ArtifactStore* files,
                                                                const std::string& job_id) {
  // One deletion of a job at a time, from its check to its record's end: two callers (two
  // DeleteJobs, a DeleteJob and a DeleteSweep, retention) split its files' removal between them
  // otherwise, and the one answered OK counted only its share (probe DI).
  static JobsBeingDeleted* const deleting = new JobsBeingDeleted();  // never destroyed
  const JobsBeingDeleted::Hold hold = deleting->Take(job_id);
  // The files first: a coordinator stopped between the two leaves a record whose deletion a
  // retry (or the next retention pass) ends, never files that no record leads to.
  if (absl::Status deletable = scheduler.DeletableJob(job_id).status(); !deletable.ok()) {
    return deletable;
  }
  const int checkpoint_files = files != nullptr ? files->RemoveJob(job_id) : 0;
  absl::StatusOr<std::pair<polytrain::v1::Job, int64_t>> deleted = scheduler.DeleteEndedJob(job_id);
  if (!deleted.ok()) return deleted.status();
  polytrain::v1::DeleteJobResponse response;
  *response.mutable_deleted() = std::move(deleted->first);
  response.set_metric_points(deleted->second);
  response.set_checkpoint_files(checkpoint_files);
  spdlog::info("{} ({}): deleted with {} metric points and {} checkpoint files", job_id,
               response.deleted().spec().name(), response.metric_points(),
               response.checkpoint_files());
  // Its sweep's gauges (a search's rungs and steps) are published anew without it, by the
  // lease loop (once for many deletes; a sweep deleted meanwhile has its gauges dropped).
  const auto& labels = response.deleted().spec().labels();
  if (auto sweep = labels.find(kSweepLabel); sweep != labels.end()) {
    scheduler.SweepNeedsDecision(sweep->second);
  }
  return response;
}

absl::StatusOr<int64_t> JobRetention::RunOnce(Clock::time_point now) {
  const int64_t cutoff_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>((now - keep_).time_since_epoch())
          .count();
  // The ids first (through the end-time index; the store's reader is held for that read
  // only), then the deletes, each a transaction of its own.
  absl::StatusOr<std::vector<std::string>> expired = store_->JobsEndedBefore(cutoff_ms);
  if (!expired.ok()) return expired.status();
  int64_t deleted = 0;
  for (const std::string& id : *expired) {
    absl::StatusOr<polytrain::v1::DeleteJobResponse> gone = DeleteEndedJob(*scheduler_, files_, id);
    if (gone.ok()) {
      ++deleted;
    } else if (gone.status().code() != absl::StatusCode::kFailedPrecondition &&
               gone.status().code() != absl::StatusCode::kNotFound) {
      return gone.status();  // the store failed: the next pass tries again
    }
  }
  // The jobs deleted are counted whatever becomes of the sweeps' records (tried again next pass).
  if (absl::Status sweeps = DeleteEmptySweeps(cutoff_ms); !sweeps.ok()) {
    spdlog::warn("deleting the records of sweeps left without jobs: {} (tried again later)",
                 std::string(sweeps.message()));
  }
  return deleted;
}

absl::Status JobRetention::DeleteEmptySweeps(int64_t cutoff_ms) {
  SweepFilter filter;
  filter.states = {polytrain::v1::Sweep::SWEEP_STATE_DONE,
                   polytrain::v1::Sweep::SWEEP_STATE_CANCELLED};
  filter.page_size = 1000;
  std::vector<polytrain::v1::Sweep> old;
  do {
    absl::StatusOr<SweepPage> page = store_->ListSweeps(filter);
    if (!page.ok()) return page.status();
    for (polytrain::v1::Sweep& sweep : page->sweeps) {
      if (google::protobuf::util::TimeUtil::TimestampToMilliseconds(sweep.create_time()) <
          cutoff_ms) {
        old.push_back(std::move(sweep));
      }
    }
    filter.page_token = page->next_page_token;
  } while (!filter.page_token.empty());
  for (const polytrain::v1::Sweep& sweep : old) {
    absl::StatusOr<std::vector<polytrain::v1::Job>> jobs = SweepJobs(*store_, sweep);
    if (!jobs.ok()) return jobs.status();
    if (!jobs->empty()) continue;  // a job of it is kept yet (ended later, or not deletable)
    absl::Status gone = store_->DeleteSweep(sweep.id());
    if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
    if (gone.ok()) {
      spdlog::info("sweep {}: deleted, its jobs gone past the retention", sweep.id());
      if (CoordinatorMetrics* metrics = scheduler_->options().metrics; metrics != nullptr) {
        metrics->SweepDeleted(sweep.id());
      }
    }
  }
  return absl::OkStatus();
}

void JobRetention::Start(Clock::duration period) {
  thread_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      absl::StatusOr<int64_t> deleted = RunOnce(Clock::now());
      if (!deleted.ok()) {
        spdlog::warn("deleting ended jobs past their retention: {} (tried again later)",
                     std::string(deleted.status().message()));
      } else if (*deleted > 0) {
        spdlog::info("deleted {} jobs that ended over the retention period ago", *deleted);
      }
      lock.lock();
      wake_.wait_for(lock, period, [this] { return stopping_; });
    }
  });
}

void JobRetention::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace polytrain
