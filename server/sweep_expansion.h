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

// One job of a sweep: the base with `loss` and the seed base.seed + seed_offset, owned by
// `owner`, queued, named "<base>-<loss part>-s<seed>", labelled sweep=<sweep_id> and
// loss=<loss part>, and (with a client_request_id) given the request id
// "<id>/<tag>/<seed_offset>".
polytrain::v1::Job SweepJob(const polytrain::v1::SubmitSweepRequest& request,
                            const polytrain::v1::LossSpec& loss, const loss::LossConfig& config,
                            const std::string& tag, int seed_offset, const std::string& sweep_id,
                            const std::string& owner);

// The jobs a validated request starts with (its `losses` are the configurations: drawn ones
// already filled in, see api/client_requests.h's SweepPlan), in loss-major order. A grid or a
// random search: every loss with each seed (losses[0] with each seed, then losses[1], ...).
// Successive halving: one trial per loss with base.seed, each set to pause at the first rung.
// Request ids are "<id>/<loss index>/<seed offset>".
std::vector<polytrain::v1::Job> ExpandSweep(const polytrain::v1::SubmitSweepRequest& request,
                                            const std::vector<loss::LossConfig>& losses,
                                            const std::string& sweep_id, const std::string& owner);

// Sets where a search trial's next segment ends: at `rung` of the search's rungs (training to the
// end of the spec at the last one).
void SetTrialRung(const polytrain::v1::SubmitSweepRequest& request, int rung,
                  polytrain::v1::Job* job);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SWEEP_EXPANSION_H_
