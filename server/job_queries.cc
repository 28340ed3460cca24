#include "server/job_queries.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/job_comparison.h"
#include "server/page_token.h"
#include "server/sweep_report.h"
#include "server/training_setup_diff.h"

namespace polytrain {
namespace {

// Room in a message for what an answer carries besides its points (framing, status).
constexpr int64_t kMessageHeadroomBytes = 64 << 10;

// Whose records a list call reads: a client's own (naming another is PERMISSION_DENIED), or for
// an admin the owner asked for (unset: everyone's).
absl::StatusOr<std::optional<std::string>> OwnerFilter(const std::string& requested,
                                                       const Caller& caller,
                                                       absl::string_view what) {
  if (!caller.own_jobs_only) {
    return requested.empty() ? std::nullopt : std::optional<std::string>(requested);
  }
  if (!requested.empty() && requested != caller.name) {
    return absl::PermissionDeniedError(
        absl::StrCat("owner: a client token lists only its own ", what));
  }
  return std::optional<std::string>(caller.name);
}

}  // namespace

using polytrain::v1::Job;

absl::StatusOr<Job> JobQueries::AccessibleJob(absl::string_view field, const std::string& id,
                                              const Caller& caller) const {
  absl::StatusOr<Job> job = store_->GetJob(id);
  if (absl::IsNotFound(job.status())) {
    return absl::NotFoundError(
        absl::StrCat(field, ": no job ", id,
                     absl::StartsWith(id, kSweepIdPrefix)
                         ? " (that is a sweep's id: GetSweep reads the sweep and names its jobs)"
                         : ""));
  }
  if (!job.ok()) return job.status();
  if (caller.own_jobs_only && job->owner() != caller.name) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": job ", id, " belongs to another user"));
  }
  return job;
}

absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> JobQueries::NewestPoint(
    const std::string& job_id) const {
  // The newest point alone (polyctl get of a running job asks for it): read by its key, not by
  // reading the whole history to keep its last.
  absl::StatusOr<std::optional<MetricKey>> newest = store_->NewestMetricKey(job_id);
  if (!newest.ok()) return newest.status();
  if (!newest->has_value()) return std::vector<polytrain::v1::MetricPoint>();
  // Keys are (step, kind), kind an integer: the one point after (step, kind - 1) up to the newest.
  const MetricKey just_before{(*newest)->step, (*newest)->kind - 1};
  return store_->GetMetricsBetween(job_id, just_before, **newest, /*limit=*/1);
}

absl::StatusOr<Job> JobQueries::GetJob(const polytrain::v1::GetJobRequest& request,
                                       const Caller& caller) const {
  return AccessibleJob("id", request.id(), caller);
}

absl::StatusOr<polytrain::v1::ListJobsResponse> JobQueries::ListJobs(
    const polytrain::v1::ListJobsRequest& request, const Caller& caller) const {
  JobFilter filter;
  absl::StatusOr<std::optional<std::string>> owner = OwnerFilter(request.owner(), caller, "jobs");
  if (!owner.ok()) return owner.status();
  filter.owner = *std::move(owner);
  for (int state : request.states()) filter.states.push_back(polytrain::v1::JobState(state));
  filter.labels.insert(request.labels().begin(), request.labels().end());
  filter.page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  filter.max_bytes = kMaxResponseBytes;
  // What a page token is bound to: who asks and what, in a fixed order (states sorted, labels
  // in key order), the page size aside.
  PageQuery query;
  query.Add(caller.name).Add(caller.own_jobs_only ? "client" : "admin");
  query.Add(filter.owner.value_or(""));
  std::vector<int> states(request.states().begin(), request.states().end());
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  query.Add(absl::StrJoin(states, ","));
  for (const auto& [key, value] : filter.labels) query.Add(key).Add(value);
  absl::StatusOr<std::string> position = PagePosition(request.page_token(), query, "ListJobs");
  if (!position.ok()) return position.status();
  filter.page_token = *std::move(position);
  absl::StatusOr<JobPage> page = store_->ListJobs(filter);
  if (!page.ok()) return page.status();
  polytrain::v1::ListJobsResponse response;
  for (Job& job : page->jobs) *response.add_jobs() = std::move(job);
  response.set_next_page_token(BindPageToken(page->next_page_token, query));
  return response;
}

absl::StatusOr<polytrain::v1::GetMetricsResponse> JobQueries::GetMetrics(
    const polytrain::v1::GetMetricsRequest& request, const Caller& caller) const {
  if (absl::Status s = AccessibleJob("job_id", request.job_id(), caller).status(); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> points =
      request.max_points() == 0 ? store_->GetMetrics(request.job_id())
      : request.max_points() == 1
          ? NewestPoint(request.job_id())
          : store_->GetMetricsSpread(request.job_id(), request.max_points());
  if (!points.ok()) return points.status();
  polytrain::v1::GetMetricsResponse response;
  for (auto& p : *points) *response.add_points() = std::move(p);
  // Refused here, naming the field, rather than by gRPC's send with a message about bytes.
  const int64_t bytes = static_cast<int64_t>(response.ByteSizeLong());
  if (bytes > kMaxMessageBytes - kMessageHeadroomBytes) {
    const int64_t fit = response.points_size() * (kMaxMessageBytes - kMessageHeadroomBytes) / bytes;
    return absl::ResourceExhaustedError(absl::StrCat(
        "max_points: ", response.points_size(), " points are ", bytes >> 20, " MiB, over the ",
        kMaxMessageBytes >> 20, " MiB message limit; ask for at most ", fit,
        " (they are spread evenly over the history)"));
  }
  return response;
}

absl::StatusOr<JobQueries::SweepToCompare> JobQueries::JobsOfSweep(absl::string_view field,
                                                                   const std::string& id,
                                                                   const Caller& caller) const {
  // Another user's sweep is refused as GetSweep refuses it, not reported empty.
  absl::StatusOr<polytrain::v1::Sweep> record = AccessibleSweep(id, caller, field);
  if (!record.ok() && !absl::IsNotFound(record.status())) return record.status();
  SweepToCompare sweep;
  if (record.ok()) {
    sweep.search_baseline = SearchBaselineName(record->request());
    absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *record);
    if (!jobs.ok()) return jobs.status();
    sweep.jobs = *std::move(jobs);
    // Read after its jobs, as RetriedSweep does: a deletion under way would leave some out.
    absl::StatusOr<bool> deleting = store_->SweepBeingDeleted(id);
    if (!deleting.ok() && !absl::IsNotFound(deleting.status())) return deleting.status();
    if (!deleting.ok() || *deleting) {
      return absl::AbortedError(absl::StrCat(
          field, ": sweep ", id, " is being deleted (DeleteSweep): its jobs are going"));
    }
  } else {
    // No record: jobs labelled with it may still be a sweep's from before sweeps had records
    // (schema 4); a client's own only.
    JobFilter filter;
    filter.labels = {{kSweepLabel, id}};
    if (caller.own_jobs_only) filter.owner = caller.name;
    filter.page_size = kMaxSweepJobs;
    absl::StatusOr<JobPage> page = store_->ListJobs(filter);
    if (!page.ok()) return page.status();
    sweep.jobs.assign(page->jobs.rbegin(), page->jobs.rend());  // oldest first
  }
  if (sweep.jobs.empty()) {
    return absl::NotFoundError(
        record.ok() ? absl::StrCat(field, ": no jobs in sweep ", id, " (each was deleted)")
                    : absl::StrCat(field, ": no sweep ", id));
  }
  return sweep;
}

absl::StatusOr<polytrain::v1::CompareJobsResponse> JobQueries::CompareJobs(
    const polytrain::v1::CompareJobsRequest& request, const Caller& caller) const {
  std::vector<Job> jobs;
  std::set<std::string> compared;  // a job named twice (by id, in a sweep) counts once
  for (int i = 0; i < request.job_ids_size(); ++i) {
    absl::StatusOr<Job> job =
        AccessibleJob(absl::StrCat("job_ids[", i, "]"), request.job_ids(i), caller);
    if (!job.ok()) return job.status();
    compared.insert(job->id());
    jobs.push_back(*std::move(job));
  }
  std::vector<std::pair<std::string, const std::string*>> sweeps;  // field, id
  if (!request.sweep_id().empty()) sweeps.emplace_back("sweep_id", &request.sweep_id());
  for (int i = 0; i < request.sweep_ids_size(); ++i) {
    sweeps.emplace_back(absl::StrCat("sweep_ids[", i, "]"), &request.sweep_ids(i));
  }
  // Unless the request names one: the searches' own baseline (sigmoid_ce for a sigmoid search,
  // not whichever loss came first) where they share one, else the comparison's default.
  std::set<std::string> search_baselines;
  for (const auto& [field, id] : sweeps) {
    absl::StatusOr<SweepToCompare> sweep = JobsOfSweep(field, *id, caller);
    if (!sweep.ok()) return sweep.status();
    search_baselines.insert(sweep->search_baseline);
    for (Job& job : sweep->jobs) {
      if (!compared.insert(job.id()).second) continue;
      if (jobs.size() == static_cast<size_t>(kMaxCompareJobs)) {
        return absl::InvalidArgumentError(absl::StrCat(
            request.sweep_ids_size() > 0 ? "sweep_ids" : "job_ids", ": more than ", kMaxCompareJobs,
            " jobs in all (job_ids and the sweeps' jobs); compare fewer"));
      }
      jobs.push_back(std::move(job));
    }
  }
  std::string baseline = request.baseline_loss();
  if (baseline.empty() && search_baselines.size() == 1) {
    baseline = *search_baselines.begin();
    // A search whose baseline never ran (a random search) takes the comparison's default.
    if (std::none_of(jobs.begin(), jobs.end(),
                     [&](const Job& job) { return job.loss_name() == baseline; })) {
      baseline.clear();
    }
  }
  const bool one_sweep = sweeps.size() == 1 && request.job_ids().empty();
  // One job's history at a time: a thousand long curves are never held at once.
  ComparisonBuilder builder(request.metric(), request.curve_points(), request.group_by());
  std::map<std::string, size_t> first_of_group;  // each group's first job, by index in `jobs`
  std::vector<size_t> first_alike;               // per job: the first job of its group
  for (const Job& job : jobs) {
    first_alike.push_back(
        first_of_group.emplace(builder.GroupOf(job), first_alike.size()).first->second);
    absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> points = store_->GetMetrics(job.id());
    if (!points.ok()) return points.status();
    builder.Add(job, *points);
  }
  absl::StatusOr<polytrain::v1::CompareJobsResponse> response = std::move(builder).Build(baseline);
  if (!response.ok()) return response;
  // Jobs picked by id may have been trained differently: the statistics would not show it. With
  // group_by, jobs of one group only are pooled: they alone are compared.
  for (size_t i = 1; i < jobs.size() && !one_sweep; ++i) {
    const Job& first = jobs[first_alike[i]];
    if (first_alike[i] == i) continue;  // the first of its group
    // A budget written as epochs in one and steps in the other trains alike where both ran
    // the same steps to their end.
    const bool same_steps_trained = first.state() == polytrain::v1::JOB_STATE_SUCCEEDED &&
                                    jobs[i].state() == polytrain::v1::JOB_STATE_SUCCEEDED &&
                                    first.steps() == jobs[i].steps();
    const std::vector<std::string> fields =
        TrainingSetupDifferences(first.spec(), jobs[i].spec(), same_steps_trained);
    if (fields.empty()) continue;
    response->set_note(absl::StrCat(
        "jobs ", first.id(), " and ", jobs[i].id(), " differ in more than their loss and seed (",
        absl::StrJoin(fields, ", "),
        "): each loss's runs are pooled, and the losses compared, across that difference",
        request.group_by().empty()
            ? " (group_by a label, e.g. \"sweep\" for sweeps of other settings, keeps them apart)"
            : absl::StrCat(" within each ", request.group_by())));
    break;
  }
  // A group_by no job answers (a misspelt key) pools everything as one group: said.
  if (!request.group_by().empty() &&
      std::all_of(response->jobs().begin(), response->jobs().end(),
                  [](const auto& row) { return row.group().empty(); })) {
    response->set_note(absl::StrCat("no job compared has the label ", Quote(request.group_by()),
                                    ": group_by put them all in one group",
                                    response->note().empty() ? "" : "; ", response->note()));
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckComparisonFits(*response, kMaxMessageBytes - kMessageHeadroomBytes));
  return response;
}

absl::StatusOr<polytrain::v1::Sweep> JobQueries::AccessibleSweep(const std::string& id,
                                                                 const Caller& caller,
                                                                 absl::string_view field) const {
  absl::StatusOr<polytrain::v1::Sweep> record = store_->GetSweep(id);
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(absl::StrCat(field, ": no sweep ", id));
  }
  if (!record.ok()) return record.status();
  if (caller.own_jobs_only && record->owner() != caller.name) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": sweep ", id, " belongs to another user"));
  }
  return record;
}

absl::StatusOr<polytrain::v1::ListSweepsResponse> JobQueries::ListSweeps(
    const polytrain::v1::ListSweepsRequest& request, const Caller& caller) const {
  SweepFilter filter;
  absl::StatusOr<std::optional<std::string>> owner = OwnerFilter(request.owner(), caller, "sweeps");
  if (!owner.ok()) return owner.status();
  filter.owner = *std::move(owner);
  std::vector<int> states(request.states().begin(), request.states().end());
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  for (int state : states) filter.states.push_back(polytrain::v1::Sweep::State(state));
  filter.page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  filter.max_bytes = kMaxResponseBytes;
  // As ListJobs' token: bound to who asks and what, the page size aside; and to this method (a
  // ListJobs token of the same caller, owner and state numbers would hash alike).
  PageQuery query;
  query.Add("ListSweeps").Add(caller.name).Add(caller.own_jobs_only ? "client" : "admin");
  query.Add(filter.owner.value_or("")).Add(absl::StrJoin(states, ","));
  absl::StatusOr<std::string> position = PagePosition(request.page_token(), query, "ListSweeps");
  if (!position.ok()) return position.status();
  filter.page_token = *std::move(position);
  absl::StatusOr<SweepPage> page = store_->ListSweeps(filter);
  if (!page.ok()) return page.status();
  polytrain::v1::ListSweepsResponse response;
  for (polytrain::v1::Sweep& sweep : page->sweeps) {
    absl::StatusOr<std::pair<int64_t, int64_t>> counts =
        store_->CountJobsLabelled(sweep.owner(), kSweepLabel, sweep.id());
    if (!counts.ok()) return counts.status();
    sweep.set_jobs(static_cast<int32_t>(counts->first));
    sweep.set_ended_jobs(static_cast<int32_t>(counts->second));
    *response.add_sweeps() = std::move(sweep);
  }
  response.set_next_page_token(BindPageToken(page->next_page_token, query));
  return response;
}

absl::StatusOr<polytrain::v1::Sweep> JobQueries::GetSweep(
    const polytrain::v1::GetSweepRequest& request, const Caller& caller) const {
  absl::StatusOr<polytrain::v1::Sweep> record = AccessibleSweep(request.id(), caller);
  if (!record.ok()) return record.status();
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *record);
  if (!jobs.ok()) return jobs.status();
  // A running trial has trained as far as its newest point (its record says so when the attempt
  // ends; probe CN: a search's table showed 0 steps for trials 400 steps in).
  for (Job& job : *jobs) {
    if (job.state() != polytrain::v1::JOB_STATE_RUNNING) continue;
    absl::StatusOr<std::optional<MetricKey>> newest = store_->NewestMetricKey(job.id());
    if (newest.ok() && newest->has_value()) job.set_steps(std::max(job.steps(), (*newest)->step));
  }
  // The ranking reads each job's evaluations alone, not its (far longer) training history:
  // polyctl watch asks for the report every few seconds.
  return BuildSweepReport(*record, *jobs, [this](const std::string& id) {
    return store_->GetMetricsOfKind(id, polytrain::v1::MetricPoint::KIND_EVAL);
  });
}

absl::StatusOr<std::optional<polytrain::v1::SubmitSweepResponse>> JobQueries::RetriedSweep(
    const polytrain::v1::Sweep& record) const {
  absl::StatusOr<polytrain::v1::Sweep> stored = store_->GetSweep(record.id());
  if (absl::IsNotFound(stored.status())) return std::nullopt;
  if (!stored.ok()) return stored.status();
  // Compared as meant: seeds 0 means 1.
  polytrain::v1::SubmitSweepRequest stored_request = stored->request();
  polytrain::v1::SubmitSweepRequest request = record.request();
  stored_request.set_seeds(std::max(stored_request.seeds(), 1));
  request.set_seeds(std::max(request.seeds(), 1));
  if (stored->owner() != record.owner() ||
      !google::protobuf::util::MessageDifferencer::Equals(stored_request, request)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "client_request_id: ", Quote(record.request().client_request_id()), " already names sweep ",
        record.id(), ", submitted with other parameters; use a new id for a new sweep"));
  }
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(*store_, *stored);
  if (!jobs.ok()) return jobs.status();
  // Its deletion (DeleteSweep) marks it before its first job goes and removes the mark with the
  // record: looked for after the jobs were read, a deletion under way or done since says they
  // may be part of the sweep only (probe DI: answered OK with 3 of 20).
  absl::StatusOr<bool> deleting = store_->SweepBeingDeleted(record.id());
  if (!deleting.ok() && !absl::IsNotFound(deleting.status())) return deleting.status();
  if (!deleting.ok() || *deleting) {
    return absl::AbortedError(
        absl::StrCat("client_request_id: ", Quote(record.request().client_request_id()),
                     " names sweep ", record.id(),
                     ", which is being deleted (DeleteSweep); send the request again once it is "
                     "gone, for a new sweep"));
  }
  polytrain::v1::SubmitSweepResponse response;
  response.set_sweep_id(record.id());
  for (Job& job : *jobs) *response.add_jobs() = std::move(job);
  return response;
}

}  // namespace polytrain
