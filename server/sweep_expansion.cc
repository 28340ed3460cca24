#include "server/sweep_expansion.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "common/sha256.h"
#include "loss/core/describe.h"

namespace polytrain {

std::string SweepId(const std::string& owner, const std::string& client_request_id) {
  if (!client_request_id.empty()) {
    return absl::StrCat(kSweepIdPrefix,
                        Sha256Hex(RequestKey(owner, client_request_id)).substr(0, 12));
  }
  thread_local std::mt19937_64 random(std::random_device{}());
  return absl::StrFormat("%s%012x", kSweepIdPrefix, random() & 0xffffffffffffULL);
}

std::vector<polytrain::v1::Job> ExpandSweep(const polytrain::v1::SubmitSweepRequest& request,
                                            const std::vector<loss::LossConfig>& losses,
                                            const std::string& sweep_id, const std::string& owner) {
  const int seeds = std::max(request.seeds(), 1);
  std::vector<polytrain::v1::Job> jobs;
  jobs.reserve(losses.size() * static_cast<size_t>(seeds));
  for (int i = 0; i < request.losses_size(); ++i) {
    const std::string loss_name = loss::ShortName(losses[i]);
    const std::string loss_part = SweepLossPart(loss_name);
    for (int k = 0; k < seeds; ++k) {
      polytrain::v1::Job job;
      polytrain::v1::JobSpec& spec = *job.mutable_spec();
      spec = request.base();
      *spec.mutable_loss() = request.losses(i);
      spec.set_seed(request.base().seed() + static_cast<uint64_t>(k));
      spec.set_name(SweepJobName(request.base().name(), loss_part, spec.seed()));
      (*spec.mutable_labels())[kSweepLabel] = sweep_id;
      (*spec.mutable_labels())[kLossLabel] = loss_part;
      job.set_state(polytrain::v1::JOB_STATE_QUEUED);
      job.set_loss_name(loss_name);
      job.set_owner(owner);
      if (!request.client_request_id().empty()) {
        job.set_client_request_id(absl::StrCat(request.client_request_id(), "/", i, "/", k));
      }
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

}  // namespace polytrain
