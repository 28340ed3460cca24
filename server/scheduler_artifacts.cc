// The scheduler's side of artifacts: which attempt may store a checkpoint, what a worker may
// download, and a stored checkpoint becoming its job's newest, and its best where
// spec.checkpoint.keep_best_by scores it so.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "api/search_metric.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"
#include "server/scheduler.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::Job;

absl::StatusOr<std::string> Scheduler::StoreArtifact(const std::string& job_id, int32_t attempt,
                                                     const std::string& path,
                                                     const std::function<absl::Status()>& publish) {
  std::lock_guard<std::mutex> lock(mu_);
  // Checked again at the end: the attempt may have been given up on while it uploaded. The
  // file goes in place under the same lock, so no attempt is given up on between the two.
  POLYTRAIN_RETURN_IF_ERROR(AttemptRunsLocked(job_id, attempt));
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  POLYTRAIN_RETURN_IF_ERROR(publish());
  if (!absl::StartsWith(CheckpointName(path), kCheckpointPrefix)) return std::string();
  job->set_checkpoint(path);
  ScoreCheckpointLocked(path, *job);
  // Not recorded, the file stays: it may have replaced one of its name that the record names
  // (an attempt reaching the same step again), and the job's next stores prune it.
  POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
  return job->best_checkpoint().path();
}

void Scheduler::ScoreNewestCheckpointLocked(const polytrain::v1::MetricBatch& batch,
                                            const polytrain::v1::JobSpec& spec) {
  const auto is_eval = [](const polytrain::v1::MetricPoint& point) {
    return point.kind() == polytrain::v1::MetricPoint::KIND_EVAL;
  };
  // Most batches hold training points only: no read of the job's record for them.
  if (spec.checkpoint().keep_best_by().empty() ||
      std::none_of(batch.points().begin(), batch.points().end(), is_eval)) {
    return;
  }
  absl::StatusOr<Job> job = store_->GetJob(batch.job_id());
  if (!job.ok()) {
    spdlog::warn("{}: its newest checkpoint not scored: {}", batch.job_id(),
                 std::string(job.status().message()));
    return;
  }
  const std::optional<int64_t> step = CheckpointStep(CheckpointName(job->checkpoint()));
  if (!step.has_value() || job->best_checkpoint().path() == job->checkpoint() ||
      std::none_of(batch.points().begin(), batch.points().end(),
                   [&](const auto& point) { return is_eval(point) && point.step() == *step; })) {
    return;
  }
  const std::string was = job->best_checkpoint().path();
  ScoreCheckpointLocked(job->checkpoint(), *job);
  if (job->best_checkpoint().path() == was) return;
  if (absl::Status s = store_->UpdateJob(*job); !s.ok()) {
    spdlog::warn("{}: its newest checkpoint's score not stored: {}", job->id(),
                 std::string(s.message()));
  }
}

void Scheduler::ScoreCheckpointLocked(const std::string& path, Job& job) {
  const std::string& metric = job.spec().checkpoint().keep_best_by();
  const std::optional<int64_t> step = CheckpointStep(CheckpointName(path));
  if (metric.empty() || !step.has_value()) return;
  // Stored again (an attempt that started over reached the step): its old score went with the
  // file's old content.
  if (job.best_checkpoint().path() == path) job.clear_best_checkpoint();
  // The points before a checkpoint are stored before it is uploaded, as a rule: an evaluation
  // at its step (taken before the checkpoint) is here by now. One that comes later (a final
  // upload that went ahead of points held while the coordinator was away) scores the newest
  // checkpoint when it comes (ScoreNewestCheckpointLocked).
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> eval =
      store_->GetMetricsBetween(job.id(), MetricKey{*step, polytrain::v1::MetricPoint::KIND_TRAIN},
                                MetricKey{*step, polytrain::v1::MetricPoint::KIND_EVAL}, 1);
  if (!eval.ok()) {  // the checkpoint is stored all the same, unscored
    spdlog::warn("{}: {} not scored by {}: {}", job.id(), path, metric,
                 std::string(eval.status().message()));
    return;
  }
  if (eval->empty()) return;
  auto value = eval->front().values().find(metric);
  if (value == eval->front().values().end() || !std::isfinite(value->second)) return;
  const polytrain::v1::BestCheckpoint& best = job.best_checkpoint();
  if (best.path().empty() || RanksBefore(value->second, best.value(), LowerIsBetter(metric))) {
    polytrain::v1::BestCheckpoint* better = job.mutable_best_checkpoint();
    better->set_path(path);
    better->set_step(*step);
    better->set_metric(metric);
    better->set_value(value->second);
  }
}

absl::Status Scheduler::JobExists(const std::string& job_id) const {
  absl::Status status = store_->GetJob(job_id).status();
  if (absl::IsNotFound(status)) return absl::NotFoundError(absl::StrCat("job_id: no job ", job_id));
  return status;
}

absl::Status Scheduler::MayStore(const std::string& session_key, const std::string& job_id,
                                 int32_t attempt, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<const WorkerState*> worker = SessionForKeyLocked(session_key);
  if (!worker.ok()) return worker.status();
  POLYTRAIN_RETURN_IF_ERROR(AttemptRunsLocked(job_id, attempt));
  const RunningJob& running = running_.at(job_id);
  for (size_t rank = 0; rank < running.ranks.size(); ++rank) {
    if (running.ranks[rank].session != (*worker)->session) continue;
    if (rank > 0) {  // never sent by a real worker: a gang resumes from rank 0's checkpoints
      return absl::PermissionDeniedError(
          absl::StrCat("job_id: worker ", (*worker)->hello.name(), " holds rank ", rank,
                       " of attempt ", attempt, " of job ", job_id,
                       "; only rank 0 of a data-parallel attempt stores its "
                       "checkpoints"));
    }
    // Checkpoints are resumed from in name order: one named past the budget would be every
    // later attempt's.
    if (std::optional<int64_t> step = CheckpointStep(name)) {
      if (!CheckStepInBudget("name", *step, running.job.spec()).ok()) {
        const int64_t budget = running.job.spec().max_steps();
        return absl::InvalidArgumentError(absl::StrCat(
            "name: ", name, " is a checkpoint of step ", *step, "; a step must be in [0, ",
            budget > 0 ? budget : kMaxSteps, "]", budget > 0 ? " (the job's spec.max_steps)" : ""));
      }
    }
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("job_id: attempt ", attempt, " of job ", job_id, " does not run on worker ",
                   (*worker)->hello.name(), " (a worker stores only its own jobs' checkpoints)"));
}

absl::Status Scheduler::CheckDownload(const std::string& session_key, const std::string& path) {
  const std::string owner = path.substr(0, path.find('/'));
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<const WorkerState*> worker = SessionForKeyLocked(session_key);
  if (!worker.ok()) return worker.status();
  if (owner == "sha256") {
    const std::string id = "sha256:" + path.substr(path.find('/') + 1);
    for (const std::string& job_id : (*worker)->running) {
      auto running = running_.find(job_id);
      if (running == running_.end()) continue;
      for (const NamedArtifact& named : ArtifactsNamedBy(running->second.job.spec())) {
        if (named.id == id) return absl::OkStatus();
      }
    }
    return absl::PermissionDeniedError(absl::StrCat("path: no job running on worker ",
                                                    (*worker)->hello.name(), " names ", id,
                                                    " (a worker reads only what the jobs it "
                                                    "runs need)"));
  }
  if (running_.count(owner) == 0 || (*worker)->running.count(owner) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("path: job ", owner, " is not running on worker ", (*worker)->hello.name(),
                     " (a worker reads only the checkpoints of the jobs it runs)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const Scheduler::WorkerState*> Scheduler::SessionForKeyLocked(
    const std::string& key) const {
  for (const auto& [session, worker] : workers_) {
    if (!key.empty() && worker.key == key) return &worker;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      kUnknownSessionKeyRefusal, " (Welcome.session_key of the worker's Connect stream)"));
}

absl::Status Scheduler::AttemptRunsLocked(const std::string& job_id, int32_t attempt) const {
  auto running = running_.find(job_id);
  if (running == running_.end() || running->second.attempt != attempt) {
    return absl::FailedPreconditionError(absl::StrCat(
        "attempt: attempt ", attempt, " of job ", job_id, " is not running",
        running == running_.end() ? std::string()
                                  : absl::StrCat(" (attempt ", running->second.attempt, " is)")));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
