#include "server/worker_protocol.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"

namespace polytrain {

absl::StatusOr<int64_t> WorkerProtocol::Connected(const polytrain::v1::Hello& hello,
                                                  WorkerChannel* channel,
                                                  const WorkerToken& token) {
  const absl::Status valid = ValidateHello(hello);
  absl::StatusOr<int64_t> session =
      valid.ok() ? scheduler_->ConnectWorker(hello, channel, token) : valid;
  // A hello refused for a field or for a name another connected worker has ends its stream; it
  // is counted with the refused messages (access control counts its own refusals).
  if (metrics_ != nullptr &&
      (absl::IsInvalidArgument(session.status()) || absl::IsAlreadyExists(session.status()))) {
    metrics_->WorkerMessageRefused("hello");
  }
  return session;
}

absl::Status WorkerProtocol::Handle(int64_t session, const polytrain::v1::WorkerMessage& message) {
  absl::Status status = Dispatch(session, message);
  if (status.code() == absl::StatusCode::kInvalidArgument && metrics_ != nullptr) {
    const auto* kind = polytrain::v1::WorkerMessage::descriptor()->FindFieldByNumber(
        static_cast<int>(message.kind_case()));
    metrics_->WorkerMessageRefused(kind == nullptr ? "none" : kind->name());
  }
  return status;
}

absl::Status WorkerProtocol::Dispatch(int64_t session,
                                      const polytrain::v1::WorkerMessage& message) {
  if (absl::Status valid = ValidateWorkerMessage(message); !valid.ok()) {
    // A result refused for what it holds ends its attempt, saying why: dropped alone, the job
    // would wait out its lease and fail for that, the reason in the logs only.
    // (Only one that names its job and attempt: an attempt of 0 would match any.)
    if (message.has_finished() && absl::IsInvalidArgument(valid) &&
        ValidateJobId("finished.job_id", message.finished().job_id()).ok() &&
        message.finished().attempt() >= 1) {
      polytrain::v1::JobFailed failed;
      failed.set_job_id(message.finished().job_id());
      failed.set_attempt(message.finished().attempt());
      failed.set_error(absl::StrCat("the worker's result was refused: ", valid.message()));
      (void)scheduler_->AttemptFailed(session, failed);  // a job it does not hold: dropped
    }
    return valid;
  }
  switch (message.kind_case()) {
    case polytrain::v1::WorkerMessage::kHeartbeat:
      return scheduler_->RenewLeases(session, message.heartbeat());
    case polytrain::v1::WorkerMessage::kMetrics:
      return scheduler_->AddMetrics(session, message.metrics());
    case polytrain::v1::WorkerMessage::kStarted:
      return scheduler_->AttemptStarted(session, message.started());
    case polytrain::v1::WorkerMessage::kFinished:
      return scheduler_->AttemptFinished(session, message.finished());
    case polytrain::v1::WorkerMessage::kFailed:
      return scheduler_->AttemptFailed(session, message.failed());
    case polytrain::v1::WorkerMessage::kRendezvous:
      return scheduler_->RendezvousReady(session, message.rendezvous());
    case polytrain::v1::WorkerMessage::kHello:
      return absl::FailedPreconditionError("hello: sent twice on one stream");
    case polytrain::v1::WorkerMessage::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("kind: empty worker message");
}

void WorkerProtocol::Disconnected(int64_t session) { scheduler_->DisconnectWorker(session); }

absl::Status WorkerProtocol::CheckUpload(const polytrain::v1::ArtifactChunk& first) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactChunk(first, /*first=*/true));
  POLYTRAIN_RETURN_IF_ERROR(scheduler_->JobExists(first.job_id()));
  return scheduler_->MayStore(first.session_key(), first.job_id(), first.attempt(), first.name());
}

absl::Status WorkerProtocol::CheckDownload(const std::string& session_key,
                                           const std::string& path) {
  return scheduler_->CheckDownload(session_key, path);
}

absl::Status WorkerProtocol::ArtifactStored(const std::string& job_id, int32_t attempt,
                                            const std::string& name, const std::string& path) {
  if (!absl::StartsWith(name, kCheckpointPrefix)) return absl::OkStatus();
  return scheduler_->CheckpointStored(job_id, attempt, path);
}

}  // namespace polytrain
