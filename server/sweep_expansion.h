// A sweep turned into its jobs: one base JobSpec x losses x seeds, each job named and labelled
// after its loss and seed. Pure functions of the request: the same request expands to the same
// jobs, and a retried request (same owner and client_request_id) to the same sweep id, on any
// build of the coordinator.
#ifndef POLYTRAIN_SERVER_SWEEP_EXPANSION_H_
#define POLYTRAIN_SERVER_SWEEP_EXPANSION_H_

#include <string>
#include <vector>

#include "loss/core/loss_config.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// "sweep-" and 12 hex digits: of SHA-256(owner, client_request_id) when the request has an id
// (so a retry names the same sweep), else random.
std::string SweepId(const std::string& owner, const std::string& client_request_id);

// The jobs of a validated request (api/client_requests.h's ValidateSubmitSweepRequest, which
// gives `losses`), owned by `owner`, queued, in loss-major order: losses[0] with each seed, then
// losses[1], ... Each is named "<base>-<loss part>-s<seed>", labelled sweep=<sweep_id> and
// loss=<loss part>, and (with a client_request_id) gets the request id "<id>/<loss>/<seed>".
std::vector<polytrain::v1::Job> ExpandSweep(const polytrain::v1::SubmitSweepRequest& request,
                                            const std::vector<loss::LossConfig>& losses,
                                            const std::string& sweep_id, const std::string& owner);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SWEEP_EXPANSION_H_
