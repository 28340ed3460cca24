#include "api/client_requests.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/job_spec.h"
#include "api/limits.h"
#include "api/loss_dataset_fit.h"
#include "api/loss_search.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "loss/core/describe.h"

namespace polytrain {

absl::Status ValidateJobId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return InvalidField(field, "must be set");
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, id, 1, kMaxJobIdLength));
  // Every id the coordinator gives ("job-…", "sweep-…") is of these characters: any other is
  // a mistake, and is never echoed raw into an error.
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return InvalidField(field, absl::StrCat("not an id (use only [A-Za-z0-9._-]): ", Quote(id)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view field, absl::string_view id, int max_length) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, id, 0, max_length));
  for (char c : id) {
    if (c < ' ' || c > '~') return InvalidField(field, "use only printable ASCII characters");
  }
  return absl::OkStatus();
}

std::string RequestKey(absl::string_view owner, absl::string_view request_id) {
  if (owner.empty()) return std::string(request_id);
  return absl::StrCat(owner, "\x1f", request_id);
}

absl::Status ValidateSubmitJobRequest(const polytrain::v1::SubmitJobRequest& request,
                                      loss::LossConfig* loss) {
  if (!request.has_spec()) return InvalidField("spec", "must be set");
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobSpec(request.spec(), "spec", loss));
  // A sweep's jobs are found by this label: a job labelled so by hand would join the sweep.
  if (request.spec().labels().contains(kSweepLabel)) {
    return InvalidField(absl::StrCat("spec.labels[\"", kSweepLabel, "\"]"),
                        "reserved: the coordinator sets it on the jobs of a sweep (SubmitSweep)");
  }
  return ValidateRequestId("client_request_id", request.client_request_id(), kMaxRequestIdLength);
}

namespace {

// Every job carries the base and its loss, and the answer lists every job: it must fit one gRPC
// message. Checked before any loss is drawn (a thousand draws of a loss with long class_weights
// would take gigabytes to find that out).
absl::Status CheckSweepFitsAnAnswer(const polytrain::v1::SubmitSweepRequest& request) {
  const polytrain::v1::LossSearch& search = request.search();
  const bool draws = search.ranges_size() > 0;
  size_t largest_loss = search.has_baseline() ? search.baseline().ByteSizeLong() : 0;
  if (draws) {
    polytrain::v1::LossSpec drawn = search.loss();  // with its lists lengthened as draws do
    for (const polytrain::v1::ParameterRange& range : search.ranges()) {
      (void)SetLossNumber(range.field(), range.max(), &drawn);
    }
    largest_loss = std::max(largest_loss, drawn.ByteSizeLong());
  }
  for (const polytrain::v1::LossSpec& loss : request.losses()) {
    largest_loss = std::max(largest_loss, loss.ByteSizeLong());
  }
  const size_t base_bytes = request.base().ByteSizeLong();
  const int64_t jobs = SweepJobCount(request, draws ? search.trials() : request.losses_size());
  const int64_t bytes =
      jobs * static_cast<int64_t>(base_bytes + largest_loss + kSweepJobOverheadBytes);
  if (bytes <= kMaxResponseBytes) return absl::OkStatus();
  const std::string field = base_bytes >= largest_loss ? "base" : draws ? "search.loss" : "losses";
  return InvalidField(
      field,
      absl::StrCat("the sweep's ", jobs, " jobs would take about ", bytes,
                   " bytes (each carries the base and its loss), over the ", kMaxResponseBytes,
                   " bytes (", kMaxResponseBytes >> 20, " MiB) an answer holds: make the ",
                   field == "base" ? "base" : "loss", " smaller or run fewer jobs"));
}

}  // namespace

absl::StatusOr<SweepPlan> ValidateSubmitSweepRequest(
    const polytrain::v1::SubmitSweepRequest& request) {
  if (!request.has_base()) return InvalidField("base", "must be set");
  // Before the spec's own checks, whose limit (kMaxLabels) is not a base's.
  if (request.base().labels_size() > kMaxSweepBaseLabels) {
    return InvalidField(
        "base.labels",
        absl::StrCat("at most ", kMaxSweepBaseLabels,
                     " labels in a sweep's base (each job also gets '", kSweepLabel, "' and '",
                     kLossLabel, "'), got ", request.base().labels_size()));
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateSweepBase(request.base(), "base"));
  for (const char* reserved : {kSweepLabel, kLossLabel}) {
    if (request.base().labels().contains(reserved)) {
      return InvalidField(absl::StrCat("base.labels[\"", reserved, "\"]"),
                          "reserved: the coordinator sets it on each of the sweep's jobs");
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("seeds", request.seeds(), 0, kMaxSweepSeeds));
  const polytrain::v1::LossSearch& search = request.search();
  const bool draws = search.ranges_size() > 0;
  const int seeds = std::max(request.seeds(), 1);
  // Seeds run from base.seed to base.seed + seeds - 1 (a search's re-runs too).
  if (request.base().seed() >
      std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(seeds - 1)) {
    return InvalidField("base.seed",
                        absl::StrCat("must leave room for ", seeds,
                                     " seeds below 2^64 (the sweep's jobs take base.seed, "
                                     "base.seed + 1, ...), got ",
                                     request.base().seed()));
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateSearchStrategy(search));
  // The configurations are counted first: a search's bounds (top_k) are counted in them.
  // A halving search's loss without ranges says what is missing (ranges) before `losses` does.
  const bool loss_without_ranges =
      SearchStrategy(request) == polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING &&
      search.has_loss() && request.losses_size() == 0;
  if (!draws && !loss_without_ranges &&
      !(SearchStrategy(request) == polytrain::v1::LossSearch::STRATEGY_RANDOM &&
        request.losses_size() == 0)) {
    if (request.losses_size() < 1 || request.losses_size() > kMaxSweepLosses) {
      return InvalidField("losses", absl::StrCat("must have 1 to ", kMaxSweepLosses,
                                                 " entries, got ", request.losses_size()));
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateLossSearch(request));
  if (!draws) {
    if (SearchStrategy(request) == polytrain::v1::LossSearch::STRATEGY_GRID &&
        request.losses_size() * seeds > kMaxSweepJobs) {
      return InvalidField("seeds", absl::StrCat("losses x seeds must be at most ", kMaxSweepJobs,
                                                ", got ", request.losses_size() * seeds));
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateRequestId("client_request_id", request.client_request_id(),
                                              kMaxRequestIdLength - kSweepRequestIdSuffixLength));
  POLYTRAIN_RETURN_IF_ERROR(CheckSweepFitsAnAnswer(request));
  SweepPlan plan;
  plan.request = request;
  // A job file serves as the base (polyctl sweep FILE): its loss is no part of the sweep, each
  // job gets one of the sweep's, so it is neither kept nor shown back.
  plan.request.mutable_base()->clear_loss();
  if (draws) {
    absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses = DrawLosses(search);
    if (!losses.ok()) return losses.status();
    plan.request.clear_losses();
    for (polytrain::v1::LossSpec& drawn : *losses) *plan.request.add_losses() = std::move(drawn);
  }
  if (draws) {
    POLYTRAIN_RETURN_IF_ERROR(
        CheckLossFitsDataset(search.loss(), "search.loss", request.base().dataset()));
  }
  std::vector<polytrain::v1::LossSpec> named(plan.request.losses().begin(),
                                             plan.request.losses().end());
  if (search.has_baseline()) named.push_back(search.baseline());
  plan.losses.resize(plan.request.losses_size());
  std::map<std::string, size_t> given;  // short name -> the first of `losses` that has it
  for (size_t i = 0; i < named.size(); ++i) {
    const bool baseline = static_cast<int>(i) == plan.request.losses_size();
    const std::string field = baseline ? "search.baseline"
                              : draws  ? absl::StrCat("search (its drawn loss ", i, ")")
                                       : IndexPath("losses", i);
    loss::LossConfig config;
    POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(named[i], field, &config));
    // A drawn loss has its template's weights: checked once, as search.loss, below.
    if (!draws || baseline) {
      POLYTRAIN_RETURN_IF_ERROR(CheckLossFitsDataset(named[i], field, request.base().dataset()));
    }
    // Given twice, a loss's jobs would share names and its comparison row would mix the two
    // (drawn ones are drawn different).
    if (!draws && !baseline) {
      const auto [first, inserted] = given.emplace(loss::ShortName(config), i);
      if (!inserted) {
        return InvalidField(field, absl::StrCat("the same loss as losses[", first->second, "] (",
                                                first->first, "); give each loss once"));
      }
    }
    // The longest name this loss's jobs get is the one with the last seed.
    const std::string longest =
        SweepJobName(request.base().name(), SweepLossPart(loss::ShortName(config)),
                     request.base().seed() + static_cast<uint64_t>(seeds - 1));
    if (longest.size() > static_cast<size_t>(kMaxNameLength)) {
      return InvalidField("base.name", absl::StrCat("too long for this sweep: the job of ", field,
                                                    " would be named ", Quote(longest), ", over ",
                                                    kMaxNameLength, " characters"));
    }
    if (!baseline) plan.losses[i] = std::move(config);
  }
  return plan;
}

namespace {

// A list call's page size, page token and owner filter (ListJobs, ListSweeps).
absl::Status ValidatePaging(int page_size, const std::string& page_token,
                            const std::string& owner) {
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("page_size", page_size, 0, kMaxPageSize));
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("page_token", page_token, 0, kMaxPageTokenLength));
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("owner", owner, 0, kMaxOwnerLength));
  // Token names are of a job name's characters: a name no token can have is a mistake, not
  // "none".
  if (!owner.empty()) POLYTRAIN_RETURN_IF_ERROR(ValidateJobName(owner, "owner"));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSweepId(absl::string_view field, absl::string_view id) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobId(field, id));
  const absl::string_view prefix = kSweepIdPrefix;
  if (!absl::StartsWith(id, prefix) || id.size() != prefix.size() + kSweepIdHexDigits ||
      id.substr(prefix.size()).find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return InvalidField(
        field, absl::StrCat("not a sweep id (\"", prefix, "\" and ", kSweepIdHexDigits,
                            " lowercase hex digits, as SubmitSweep gives it): ", Quote(id)));
  }
  return absl::OkStatus();
}

absl::Status ValidateGetSweepRequest(const polytrain::v1::GetSweepRequest& request) {
  return ValidateSweepId("id", request.id());
}

absl::Status ValidateCancelSweepRequest(const polytrain::v1::CancelSweepRequest& request) {
  return ValidateSweepId("id", request.id());
}

absl::Status ValidateGetJobRequest(const polytrain::v1::GetJobRequest& request) {
  return ValidateJobId("id", request.id());
}

absl::Status ValidateCancelJobRequest(const polytrain::v1::CancelJobRequest& request) {
  return ValidateJobId("id", request.id());
}

absl::Status ValidateDeleteJobRequest(const polytrain::v1::DeleteJobRequest& request) {
  return ValidateJobId("id", request.id());
}

absl::Status ValidateDownloadCheckpointRequest(
    const polytrain::v1::DownloadCheckpointRequest& request) {
  return ValidateJobId("id", request.id());
}

absl::Status ValidateWatchJobRequest(const polytrain::v1::WatchJobRequest& request) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("id", request.id()));
  if (request.has_resume_after()) {
    const polytrain::v1::PointPosition& after = request.resume_after();
    POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("resume_after.step", after.step(), 0, kMaxSteps));
    if (after.kind() != polytrain::v1::MetricPoint::KIND_TRAIN &&
        after.kind() != polytrain::v1::MetricPoint::KIND_EVAL) {
      return InvalidField("resume_after.kind",
                          absl::StrCat("must be KIND_TRAIN or KIND_EVAL, got ", after.kind()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListJobsRequest(const polytrain::v1::ListJobsRequest& request) {
  POLYTRAIN_RETURN_IF_ERROR(
      ValidatePaging(request.page_size(), request.page_token(), request.owner()));
  POLYTRAIN_RETURN_IF_ERROR(ValidateLabelMap(request.labels(), "labels"));
  if (request.states_size() > polytrain::v1::JobState_ARRAYSIZE) {
    return InvalidField("states", absl::StrCat("at most ", polytrain::v1::JobState_ARRAYSIZE,
                                               " states, got ", request.states_size()));
  }
  for (int i = 0; i < request.states_size(); ++i) {
    const int state = request.states(i);
    if (!polytrain::v1::JobState_IsValid(state) || state == polytrain::v1::JOB_STATE_UNSPECIFIED) {
      return InvalidField(IndexPath("states", i), absl::StrCat("unknown state ", state));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListSweepsRequest(const polytrain::v1::ListSweepsRequest& request) {
  POLYTRAIN_RETURN_IF_ERROR(
      ValidatePaging(request.page_size(), request.page_token(), request.owner()));
  constexpr int kStates = polytrain::v1::Sweep::State_ARRAYSIZE - 1;  // UNSPECIFIED aside
  if (request.states_size() > kStates) {
    return InvalidField("states",
                        absl::StrCat("at most ", kStates, " states, got ", request.states_size()));
  }
  for (int i = 0; i < request.states_size(); ++i) {
    const int state = request.states(i);
    if (!polytrain::v1::Sweep::State_IsValid(state) ||
        state == polytrain::v1::Sweep::SWEEP_STATE_UNSPECIFIED) {
      return InvalidField(IndexPath("states", i), absl::StrCat("unknown state ", state));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDeleteSweepRequest(const polytrain::v1::DeleteSweepRequest& request) {
  return ValidateSweepId("id", request.id());
}

absl::Status ValidateGetMetricsRequest(const polytrain::v1::GetMetricsRequest& request) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("job_id", request.job_id()));
  return CheckIntRange("max_points", request.max_points(), 0, kMaxRequestedMetricPoints);
}

absl::Status ValidateCompareJobsRequest(const polytrain::v1::CompareJobsRequest& request) {
  if (request.job_ids().empty() && request.sweep_id().empty() && request.sweep_ids().empty()) {
    return InvalidField("job_ids", "give job_ids, sweep_ids (or both), or a sweep_id");
  }
  if (!request.sweep_id().empty() && !request.job_ids().empty()) {
    return InvalidField("job_ids",
                        "give job_ids or a sweep_id, not both (sweep_ids go with job_ids)");
  }
  if (!request.sweep_id().empty() && !request.sweep_ids().empty()) {
    return InvalidField("sweep_ids",
                        "give sweep_ids or a sweep_id, not both (sweep_ids takes any number)");
  }
  if (request.job_ids_size() > kMaxCompareJobs) {
    return InvalidField("job_ids", absl::StrCat("at most ", kMaxCompareJobs, " jobs, got ",
                                                request.job_ids_size()));
  }
  for (int i = 0; i < request.job_ids_size(); ++i) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateJobId(IndexPath("job_ids", i), request.job_ids(i)));
    // A run counted twice would shrink the interval and the p-value it is tested with.
    for (int j = 0; j < i; ++j) {
      if (request.job_ids(j) == request.job_ids(i)) {
        return absl::InvalidArgumentError(absl::StrCat(IndexPath("job_ids", i), ": ",
                                                       request.job_ids(i), " is also job_ids[", j,
                                                       "]; name each job once"));
      }
    }
  }
  if (!request.sweep_id().empty()) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateSweepId("sweep_id", request.sweep_id()));
  }
  if (request.sweep_ids_size() > kMaxCompareSweeps) {
    return InvalidField("sweep_ids", absl::StrCat("at most ", kMaxCompareSweeps, " sweeps, got ",
                                                  request.sweep_ids_size()));
  }
  for (int i = 0; i < request.sweep_ids_size(); ++i) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateSweepId(IndexPath("sweep_ids", i), request.sweep_ids(i)));
    for (int j = 0; j < i; ++j) {
      if (request.sweep_ids(j) == request.sweep_ids(i)) {
        return absl::InvalidArgumentError(absl::StrCat(IndexPath("sweep_ids", i), ": ",
                                                       request.sweep_ids(i), " is also sweep_ids[",
                                                       j, "]; name each sweep once"));
      }
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("metric", request.metric(), 0, kMaxValueNameLength));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckLength("baseline_loss", request.baseline_loss(), 0, kMaxLossNameLength));
  if (!request.group_by().empty()) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateLabelKey("group_by", request.group_by()));
  }
  return CheckIntRange("curve_points", request.curve_points(), 0, kMaxCurvePoints);
}

int64_t SweepJobCount(const polytrain::v1::SubmitSweepRequest& request, int configurations) {
  const int64_t seeds = std::max(request.seeds(), 1);
  if (SearchStrategy(request) != polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING) {
    return int64_t{configurations} * seeds;
  }
  const int64_t top_k = request.search().top_k();
  return configurations + top_k * seeds + (top_k > 0 ? seeds : 0);  // re-runs and the baseline
}

std::string SweepLossPart(const std::string& loss_short_name) {
  std::string out;
  for (char c : loss_short_name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (keep) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string SweepJobName(const std::string& base_name, const std::string& loss_part,
                         uint64_t seed) {
  return absl::StrCat(base_name, "-", loss_part, "-s", seed);
}

}  // namespace polytrain
