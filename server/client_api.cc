#include "server/client_api.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/artifacts.h"
#include "api/client_requests.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "common/short_list.h"
#include "common/status_macros.h"
#include "loss/core/describe.h"
#include "server/job_retention.h"
#include "server/sweep_deletion.h"
#include "server/sweep_expansion.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::Job;

absl::StatusOr<Job> ClientApi::SubmitJob(const polytrain::v1::SubmitJobRequest& request,
                                         const Caller& caller) {
  loss::LossConfig loss;
  POLYTRAIN_RETURN_IF_ERROR(ValidateSubmitJobRequest(request, &loss));
  Job job;
  *job.mutable_spec() = request.spec();
  job.set_state(polytrain::v1::JOB_STATE_QUEUED);
  job.set_client_request_id(request.client_request_id());
  job.set_loss_name(loss::ShortName(loss));
  job.set_owner(caller.name);
  // A retry is answered with the job its first call stored once its fields are checked, before
  // its artifacts and the caller's limits are (as a sweep's is): an artifact deleted since must
  // not refuse it (probe CV).
  if (!request.client_request_id().empty()) {
    absl::StatusOr<std::optional<Job>> retried = queries_->RetriedJob(job);
    if (!retried.ok()) return retried.status();
    if (retried->has_value()) return **std::move(retried);
  }
  absl::StatusOr<std::vector<Job>> stored = SubmitChecked(request.spec(), "spec", {std::move(job)},
                                                          caller, nullptr, request.validate_only());
  if (!stored.ok()) return stored.status();
  return std::move(stored->front());
}

absl::StatusOr<polytrain::v1::SubmitSweepResponse> ClientApi::SubmitSweep(
    const polytrain::v1::SubmitSweepRequest& request, const Caller& caller) {
  absl::StatusOr<SweepPlan> plan = ValidateSubmitSweepRequest(request);
  if (!plan.ok()) return plan.status();
  polytrain::v1::Sweep record;
  record.set_id(SweepId(caller.name, request.client_request_id()));
  record.set_owner(caller.name);
  *record.mutable_request() = plan->request;
  record.mutable_request()->clear_validate_only();
  record.set_state(polytrain::v1::Sweep::SWEEP_STATE_RUNNING);
  if (!request.client_request_id().empty()) {
    absl::StatusOr<std::optional<polytrain::v1::SubmitSweepResponse>> retried =
        queries_->RetriedSweep(record);
    if (!retried.ok()) return retried.status();
    if (retried->has_value()) return **retried;
  }
  // Every job is checked, then all are stored with the sweep's record in one transaction: a
  // sweep is accepted whole or not at all.
  const bool validate_only = request.validate_only();
  absl::StatusOr<std::vector<Job>> stored = SubmitChecked(
      request.base(), "base",
      ExpandSweep(plan->request, plan->losses, validate_only ? "" : record.id(), caller.name),
      caller, &record, validate_only);
  if (!stored.ok()) return stored.status();
  polytrain::v1::SubmitSweepResponse response;
  if (!validate_only) response.set_sweep_id(record.id());
  for (Job& job : *stored) {
    if (validate_only) job.mutable_spec()->mutable_labels()->erase(kSweepLabel);
    *response.add_jobs() = std::move(job);
  }
  return response;
}

absl::StatusOr<polytrain::v1::Sweep> ClientApi::GetSweep(
    const polytrain::v1::GetSweepRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateGetSweepRequest(request));
  return queries_->GetSweep(request, caller);
}

absl::StatusOr<polytrain::v1::Sweep> ClientApi::CancelSweep(
    const polytrain::v1::CancelSweepRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateCancelSweepRequest(request));
  polytrain::v1::GetSweepRequest get;
  get.set_id(request.id());
  // As GetSweep answers it: the caller's to see (so to cancel), and done or not.
  absl::StatusOr<polytrain::v1::Sweep> sweep = queries_->GetSweep(get, caller);
  if (!sweep.ok()) return sweep.status();
  if (sweep->state() == polytrain::v1::Sweep::SWEEP_STATE_DONE) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: sweep ", request.id(), " is done: every job of it ended"));
  }
  POLYTRAIN_RETURN_IF_ERROR(sweeps_->Cancel(*sweep).status());
  return queries_->GetSweep(get, caller);
}

absl::StatusOr<polytrain::v1::ListSweepsResponse> ClientApi::ListSweeps(
    const polytrain::v1::ListSweepsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateListSweepsRequest(request));
  return queries_->ListSweeps(request, caller);
}

absl::StatusOr<polytrain::v1::DeleteSweepResponse> ClientApi::DeleteSweep(
    const polytrain::v1::DeleteSweepRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateDeleteSweepRequest(request));
  std::lock_guard<std::mutex> lock(sweep_deletion_mu_);
  absl::StatusOr<polytrain::v1::Sweep> record = queries_->AccessibleSweep(request.id(), caller);
  if (!record.ok()) return record.status();
  // Answered with the record as GetSweep shows it before its jobs went (its jobs counted, its
  // ranking; probe DI: jobs and ended_jobs said 0), in the state the deletion left it.
  polytrain::v1::GetSweepRequest get;
  get.set_id(request.id());
  absl::StatusOr<polytrain::v1::Sweep> shown = queries_->GetSweep(get, caller);
  if (!shown.ok()) return shown.status();
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> deleted =
      DeleteEndedSweep(*scheduler_, *store_, files_, *record);
  if (!deleted.ok()) return deleted.status();
  const polytrain::v1::Sweep::State state = deleted->deleted().state();
  *deleted->mutable_deleted() = *std::move(shown);
  deleted->mutable_deleted()->set_state(state);
  return deleted;
}

absl::StatusOr<IntactArtifact> ClientApi::StoredCheckpoint(
    const polytrain::v1::DownloadCheckpointRequest& request, const Caller& caller,
    std::vector<std::string>* passed_over) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateDownloadCheckpointRequest(request));
  absl::StatusOr<Job> job = queries_->AccessibleJob("id", request.id(), caller);
  if (!job.ok()) return job.status();
  if (files_ == nullptr) {
    return absl::FailedPreconditionError(
        "id: this coordinator keeps no checkpoints (it runs without an artifact store)");
  }
  if (request.best()) return BestCheckpoint(*job, caller);
  if (job->checkpoint().empty()) {
    const char* why = job->state() == polytrain::v1::JOB_STATE_QUEUED ? " (it has not started)"
                      : !IsFinalState(job->state()) ? " (it has not stored one yet)"
                      : job->attempts() == 0
                          ? " (it ended before it started)"
                          : " (none was stored for it: its worker's log says why)";
    return absl::NotFoundError(
        absl::StrCat("id: job ", request.id(), " has no stored checkpoint", why));
  }
  absl::StatusOr<IntactArtifact> file =
      files_->FindIntactOrOlder(job->checkpoint(), kCheckpointPrefix, passed_over);
  // The store's NOT_FOUND names its own field, "path", which this request does not have.
  for (std::string& why : *passed_over) {
    spdlog::warn("{}: passed over {}", job->id(), why);
    why = std::string(absl::StripPrefix(why, "path: "));
  }
  if (absl::IsDataLoss(file.status()) || absl::IsNotFound(file.status())) {
    // Damaged or gone (a store's files removed by hand): the record has a checkpoint no file
    // holds intact.
    // Each one checked, newest first (a job keeps a few: checkpoint.keep_last).
    return absl::DataLossError(
        absl::StrCat("id: job ", job->id(), " has no intact stored checkpoint (",
                     passed_over->size(), " checked): ", ShortList(*passed_over, 4, "; ")));
  }
  return file;
}

absl::StatusOr<IntactArtifact> ClientApi::BestCheckpoint(const Job& job, const Caller& caller) {
  const std::string& metric = job.spec().checkpoint().keep_best_by();
  if (metric.empty()) {
    return absl::NotFoundError(absl::StrCat("best: job ", job.id(),
                                            " keeps no best checkpoint (its "
                                            "spec.checkpoint.keep_best_by names no metric)"));
  }
  if (job.best_checkpoint().path().empty()) {
    return absl::NotFoundError(
        absl::StrCat("best: job ", job.id(), " has no checkpoint scored by ", metric,
                     " yet (none stored was taken at a step that evaluated, or the best was "
                     "dropped when an attempt resumed from an earlier step)"));
  }
  absl::StatusOr<IntactArtifact> file = files_->FindIntact(job.best_checkpoint().path());
  if (absl::IsNotFound(file.status())) {
    // A better one stored since the record was read prunes this one: read it again.
    absl::StatusOr<Job> again = queries_->AccessibleJob("id", job.id(), caller);
    if (again.ok() && again->best_checkpoint().path() != job.best_checkpoint().path()) {
      return BestCheckpoint(*again, caller);
    }
  }
  if (absl::IsDataLoss(file.status()) || absl::IsNotFound(file.status())) {
    spdlog::warn("{}: best checkpoint {}", job.id(), std::string(file.status().message()));
    return absl::DataLossError(absl::StrCat(
        "best: job ", job.id(), "'s best checkpoint (step ", job.best_checkpoint().step(), ", ",
        metric, " ", job.best_checkpoint().value(),
        ") is damaged or gone: ", absl::StripPrefix(file.status().message(), "path: ")));
  }
  return file;
}

absl::StatusOr<Job> ClientApi::GetJob(const polytrain::v1::GetJobRequest& request,
                                      const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateGetJobRequest(request));
  absl::StatusOr<Job> job = queries_->GetJob(request, caller);
  if (job.ok()) job->set_waiting_for(scheduler_->WaitingFor(*job));
  return job;
}

absl::StatusOr<polytrain::v1::ListJobsResponse> ClientApi::ListJobs(
    const polytrain::v1::ListJobsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateListJobsRequest(request));
  absl::StatusOr<polytrain::v1::ListJobsResponse> page = queries_->ListJobs(request, caller);
  if (page.ok()) {
    for (Job& job : *page->mutable_jobs()) job.set_waiting_for(scheduler_->WaitingFor(job));
  }
  return page;
}

absl::StatusOr<Job> ClientApi::CancelJob(const polytrain::v1::CancelJobRequest& request,
                                         const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateCancelJobRequest(request));
  POLYTRAIN_RETURN_IF_ERROR(queries_->AccessibleJob("id", request.id(), caller).status());
  return scheduler_->Cancel(request.id());
}

absl::StatusOr<polytrain::v1::DeleteJobResponse> ClientApi::DeleteJob(
    const polytrain::v1::DeleteJobRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateDeleteJobRequest(request));
  POLYTRAIN_RETURN_IF_ERROR(queries_->AccessibleJob("id", request.id(), caller).status());
  return polytrain::DeleteEndedJob(*scheduler_, files_, request.id());
}

absl::StatusOr<polytrain::v1::GetMetricsResponse> ClientApi::GetMetrics(
    const polytrain::v1::GetMetricsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateGetMetricsRequest(request));
  return queries_->GetMetrics(request, caller);
}

absl::StatusOr<polytrain::v1::CompareJobsResponse> ClientApi::CompareJobs(
    const polytrain::v1::CompareJobsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateCompareJobsRequest(request));
  return queries_->CompareJobs(request, caller);
}

absl::StatusOr<WatchStart> ClientApi::Watch(const polytrain::v1::WatchJobRequest& request,
                                            JobWatcher* watcher, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateWatchJobRequest(request));
  POLYTRAIN_RETURN_IF_ERROR(queries_->AccessibleJob("id", request.id(), caller).status());
  return scheduler_->Watch(request.id(), watcher);
}

namespace {

// Whether a history page of at most `limit` points read after `after` ends the history before
// `through`: fewer than `limit` points, the last of them (or `after`) not `through`.
bool EndsShortOf(const std::vector<polytrain::v1::MetricPoint>& page, int limit,
                 const std::optional<MetricKey>& after, const MetricKey& through) {
  if (static_cast<int>(page.size()) >= limit) return false;
  if (page.empty()) {
    return !after.has_value() || after->step != through.step || after->kind != through.kind;
  }
  return page.back().step() != through.step ||
         static_cast<int32_t>(page.back().kind()) != through.kind;
}

}  // namespace

absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> ClientApi::WatchHistory(
    const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
    int limit) {
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> page =
      queries_->MetricsBetween(job_id, after, through, limit);
  // A page that ends short of `through` ends the history; unless the job went (DeleteJob) while
  // it was read, when the watcher must not take what it got for the whole history.
  const bool short_of_through = page.ok() && EndsShortOf(*page, limit, after, through);
  if (short_of_through && absl::IsNotFound(store_->GetJob(job_id).status())) {
    return absl::NotFoundError(
        absl::StrCat("id: job ", job_id, " was deleted while it was watched"));
  }
  return page;
}

absl::StatusOr<std::vector<Job>> ClientApi::SubmitChecked(
    const polytrain::v1::JobSpec& spec, absl::string_view spec_path, std::vector<Job> jobs,
    const Caller& caller, const polytrain::v1::Sweep* sweep, bool validate_only) {
  // Priority orders everyone's jobs in one queue: how high a client may put its own is the
  // operator's to bound.
  if (caller.own_jobs_only && spec.priority() > policy_.max_client_priority) {
    return absl::PermissionDeniedError(absl::StrCat(
        spec_path, ".priority: a client token may set at most ", policy_.max_client_priority,
        " (coordinator flag --max_client_priority), got ", spec.priority()));
  }
  const std::optional<int64_t> unended_limit =
      caller.own_jobs_only ? std::optional<int64_t>(policy_.max_unended_jobs) : std::nullopt;
  // A search queues its trials now and its re-runs once they have ended: both count against the
  // limit, the re-runs as its pending jobs until they are queued.
  const int64_t later_jobs =
      sweep != nullptr && sweep->request().has_search() ? SearchRerunJobs(sweep->request()) : 0;
  if (validate_only && unended_limit.has_value()) {  // a dry run is refused as a submit would be
    POLYTRAIN_RETURN_IF_ERROR(queries_->CheckUnendedJobs(
        caller.name, static_cast<int64_t>(jobs.size()), later_jobs, *unended_limit));
  }
  CreateJobsOptions options;
  options.sweep = sweep;
  options.owner_unended_limit = unended_limit;
  options.later_jobs = later_jobs;
  const std::vector<NamedArtifact> named = ArtifactsNamedBy(spec, spec_path);
  if (named.empty()) {
    if (validate_only) return jobs;
    return scheduler_->Submit(std::move(jobs), options);
  }
  if (artifacts_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(named.front().field, ": this coordinator stores no artifacts"));
  }
  absl::StatusOr<std::vector<Job>> stored;
  POLYTRAIN_RETURN_IF_ERROR(artifacts_->SubmitNaming(named, caller, [&] {
    stored = validate_only ? std::move(jobs) : scheduler_->Submit(std::move(jobs), options);
    return stored.status();
  }));
  return stored;
}

absl::StatusOr<ArtifactCatalog*> ClientApi::Artifacts() {
  if (artifacts_ == nullptr) {
    return absl::FailedPreconditionError("this coordinator stores no artifacts");
  }
  return artifacts_;
}

absl::StatusOr<polytrain::v1::ListArtifactsResponse> ClientApi::ListArtifacts(
    const polytrain::v1::ListArtifactsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateListArtifactsRequest(request));
  absl::StatusOr<ArtifactCatalog*> catalog = Artifacts();
  if (!catalog.ok()) return catalog.status();
  return (*catalog)->List(request, caller);
}

absl::StatusOr<polytrain::v1::DeleteArtifactResponse> ClientApi::DeleteArtifact(
    const polytrain::v1::DeleteArtifactRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateDeleteArtifactRequest(request));
  absl::StatusOr<ArtifactCatalog*> catalog = Artifacts();
  if (!catalog.ok()) return catalog.status();
  return (*catalog)->Delete(request, caller);
}

void ClientApi::Unwatch(const std::string& job_id, JobWatcher* watcher) {
  scheduler_->Unwatch(job_id, watcher);
}

}  // namespace polytrain
