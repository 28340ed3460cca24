// ServiceWorker's account of dials that end without a welcome: each logged (one in twelve once
// they repeat), and a run of refusals counted against its jobs' lease (RefusedLease).
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_security.h"
#include "spdlog/spdlog.h"
#include "worker/service_worker.h"

namespace polytrain {

void ServiceWorker::NotConnected(const grpc::Status& status) {
  const bool refused = status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                       status.error_code() == grpc::StatusCode::PERMISSION_DENIED;
  // A TLS mismatch before any welcome (probe DF: such a worker dialled on forever): no state
  // that passes either. Only a failed handshake counts: a closed connection (plaintext against
  // TLS, but also a proxy whose coordinator is not up yet) is dialled on, its hint logged.
  const std::string hint =
      status.ok() ? "" : TlsMismatchHint(options_.security, status.error_message());
  const bool mismatch = !refused && !hint.empty() && !ever_welcomed_;
  const auto now = std::chrono::steady_clock::now();
  // A worker never taken has no jobs to keep: refused at every dial for kStartRefusal (not one
  // refusal: its token may be being added, the coordinator reloading its tokens file), it ends
  // rather than retry forever. A name held under another token ("hello.name: ...") is let go
  // when that token's jobs end: dialled on.
  const bool about_the_name = absl::StartsWith(status.error_message(), "hello.name:");
  if (about_the_name) first_start_refusal_.reset();  // its token was taken
  if ((refused || mismatch) && !about_the_name && !ever_welcomed_ && options_.on_refused_at_start) {
    if (!first_start_refusal_.has_value()) first_start_refusal_ = now;
    if (now - *first_start_refusal_ >= kStartRefusal) {
      gave_up_ = true;
      if (!stopping_) options_.on_refused_at_start(status.error_message() + hint, mismatch);
      return;
    }
  }
  ReportNotConnected(status);
  if (mismatch) return;  // a run of them goes on
  if (!refused) {
    first_start_refusal_.reset();  // a run of refusals is unbroken, or starts again
    refused_lease_.Unreachable();
    return;
  }
  if (!ever_welcomed_) return;  // no job's lease to count
  refused_lease_.Refused(now);
  if (!refused_lease_.Lapsed(now)) return;
  std::vector<std::string> stopped;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (auto& [id, job] : jobs_) {
      if (job->done() || job->abandoned() || job->cancelled()) continue;
      job->LetGo();
      stopped.push_back(id);
    }
  }
  if (stopped.empty()) return;
  spdlog::warn(
      "stopping {} job(s) ({}): the coordinator refuses this worker ({}) and their lease ({} s) "
      "has lapsed since, so it has requeued them",
      stopped.size(), absl::StrJoin(stopped, ", "), status.error_message(),
      refused_lease_.lease_seconds());
}

void ServiceWorker::ReportNotConnected(const grpc::Status& status) {
  if (stopping_) return;
  // Dials back off to one every 5 s (or every heartbeat, if shorter): the first failure, then
  // one in 12 (about one a minute).
  if (failed_connections_++ % 12 != 0) return;
  const std::string message = status.ok() ? "the stream closed" : status.error_message();
  const std::string hint = ConnectionHint(options_.security, message);
  spdlog::warn("cannot connect to the coordinator at {} ({} attempt(s) so far): {}{}; retrying",
               options_.coordinator, failed_connections_, message, hint);
}

}  // namespace polytrain
