// The coordinator's side of the worker protocol (worker.proto): checks each message a worker
// sends (api/worker_messages.h) and hands it to the Scheduler, and admits the artifacts a
// worker uploads. The gRPC stream handling is apart (worker_connection.h); this is what the
// messages mean.
#ifndef POLYTRAIN_SERVER_WORKER_PROTOCOL_H_
#define POLYTRAIN_SERVER_WORKER_PROTOCOL_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "polytrain/v1/worker.pb.h"
#include "server/coordinator_metrics.h"
#include "server/scheduler.h"

namespace polytrain {

class WorkerProtocol {
 public:
  // `scheduler` and `metrics` (may be null) must outlive this.
  explicit WorkerProtocol(Scheduler* scheduler, CoordinatorMetrics* metrics = nullptr)
      : scheduler_(scheduler), metrics_(metrics) {}

  // A worker's stream opened with `hello` by a holder of the worker token `token` (empty
  // without tokens); returns its session. INVALID_ARGUMENT for a bad hello, ALREADY_EXISTS for a
  // name that is connected, PERMISSION_DENIED for a name whose jobs run under another token,
  // UNAUTHENTICATED for a token revoked since the stream opened.
  absl::StatusOr<int64_t> Connected(const polytrain::v1::Hello& hello, WorkerChannel* channel,
                                    const WorkerToken& token = {});
  // A message after the hello. INVALID_ARGUMENT: refused for good (the worker need not send it
  // again); other errors: not handled now (e.g. the store failed), the worker sends it again.
  // A metric point of a kind this coordinator does not know (a newer worker's) is dropped and
  // the rest of its batch handled, as a worker's unknown fields are dropped: workers may be
  // upgraded before their coordinator. The log says so once per kind.
  absl::Status Handle(int64_t session, const polytrain::v1::WorkerMessage& message);
  // The stream closed; its running jobs keep their leases until they lapse.
  void Disconnected(int64_t session);

  // An upload may start: the chunk is a valid first chunk of a job the coordinator has, from
  // the worker running that attempt (Scheduler::MayStore).
  absl::Status CheckUpload(const polytrain::v1::ArtifactChunk& first);
  // A download of `path` may start (Scheduler::CheckDownload).
  absl::Status CheckDownload(const std::string& session_key, const std::string& path);
  // An upload of the job's file by `attempt`, checked: `publish` puts it at `path` if that
  // attempt still runs (FAILED_PRECONDITION if not, nothing put in place); a checkpoint becomes
  // the job's newest (Job.checkpoint). Returns the path of the job's best checkpoint
  // (Scheduler::StoreArtifact; empty: none).
  absl::StatusOr<std::string> StoreArtifact(const std::string& job_id, int32_t attempt,
                                            const std::string& path,
                                            const std::function<absl::Status()>& publish);

 private:
  absl::Status Dispatch(int64_t session, const polytrain::v1::WorkerMessage& message);
  // A JobFinished or JobFailed refused for what it holds (INVALID_ARGUMENT `why`) fails its
  // attempt with `why` in the job's error.
  void EndRefusedReport(int64_t session, const polytrain::v1::WorkerMessage& message,
                        const absl::Status& why);

  // Handles a metric batch with points of kinds the enum does not have (from a newer worker),
  // the first at `first_unknown`: checked as sent (those kinds read as KIND_TRAIN, so that a
  // refusal names the worker's own index), then dispatched without them, each kind logged once.
  absl::Status HandleWithUnknownKinds(int64_t session, const polytrain::v1::WorkerMessage& message,
                                      int first_unknown);

  Scheduler* const scheduler_;
  CoordinatorMetrics* const metrics_;
  static constexpr size_t kMaxUnknownKindsLogged = 32;
  std::mutex unknown_kinds_mu_;
  std::set<int> unknown_kinds_logged_;  // guarded by unknown_kinds_mu_
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_WORKER_PROTOCOL_H_
