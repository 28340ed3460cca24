#include "server/sweep_expansion.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "common/sha256.h"
#include "loss/core/describe.h"

namespace polytrain {

std::string SweepId(const std::string& owner, const std::string& client_request_id) {
  if (!client_request_id.empty()) {
    return absl::StrCat(
        kSweepIdPrefix,
        Sha256Hex(RequestKey(owner, client_request_id)).substr(0, kSweepIdHexDigits));
  }
  thread_local std::mt19937_64 random(std::random_device{}());
  static_assert(kSweepIdHexDigits == 12, "the format below writes 12 digits of 48 bits");
  return absl::StrFormat("%s%012x", kSweepIdPrefix, random() & 0xffffffffffffULL);
}

polytrain::v1::Job SweepJob(const polytrain::v1::SubmitSweepRequest& request,
                            const polytrain::v1::LossSpec& loss, const loss::LossConfig& config,
                            const std::string& tag, int seed_offset, const std::string& sweep_id,
                            const std::string& owner) {
  const std::string loss_name = loss::ShortName(config);
  const std::string loss_part = SweepLossPart(loss_name);
  polytrain::v1::Job job;
  polytrain::v1::JobSpec& spec = *job.mutable_spec();
  spec = request.base();
  *spec.mutable_loss() = loss;
  spec.set_seed(request.base().seed() + static_cast<uint64_t>(seed_offset));
  spec.set_name(SweepJobName(request.base().name(), loss_part, spec.seed()));
  (*spec.mutable_labels())[kSweepLabel] = sweep_id;
  (*spec.mutable_labels())[kLossLabel] = loss_part;
  job.set_state(polytrain::v1::JOB_STATE_QUEUED);
  job.set_loss_name(loss_name);
  job.set_owner(owner);
  if (!request.client_request_id().empty()) {
    job.set_client_request_id(
        absl::StrCat(request.client_request_id(), "/", tag, "/", seed_offset));
  }
  return job;
}

std::vector<polytrain::v1::Job> ExpandSweep(const polytrain::v1::SubmitSweepRequest& request,
                                            const std::vector<loss::LossConfig>& losses,
                                            const std::string& sweep_id, const std::string& owner) {
  const bool halving =
      SearchStrategy(request) == polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING;
  const int seeds = halving ? 1 : std::max(request.seeds(), 1);
  std::vector<polytrain::v1::Job> jobs;
  jobs.reserve(losses.size() * static_cast<size_t>(seeds));
  for (int i = 0; i < request.losses_size(); ++i) {
    for (int k = 0; k < seeds; ++k) {
      polytrain::v1::Job job =
          SweepJob(request, request.losses(i), losses[i], absl::StrCat(i), k, sweep_id, owner);
      if (halving) {
        job.mutable_search()->set_trial(i);
        SetTrialRung(request, 0, &job);
      }
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

void SetTrialRung(const polytrain::v1::SubmitSweepRequest& request, int rung,
                  polytrain::v1::Job* job) {
  const std::vector<int64_t> rungs = RungResources(request);
  polytrain::v1::SearchTrial& trial = *job->mutable_search();
  trial.set_rung(rung);
  trial.set_attempts_before_segment(job->attempts() - job->attempts_given_back());
  trial.clear_pause_at_epoch();
  trial.clear_pause_at_step();
  if (rung + 1 >= static_cast<int>(rungs.size())) return;  // the last rung: the full budget
  if (request.search().unit() == polytrain::v1::LossSearch::RESOURCE_STEPS) {
    trial.set_pause_at_step(rungs[rung]);
  } else {
    trial.set_pause_at_epoch(static_cast<int32_t>(rungs[rung]));
  }
}

}  // namespace polytrain
