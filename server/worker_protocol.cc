#include "server/worker_protocol.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

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

namespace {

// The job a report names (empty for a heartbeat, a hello or an empty message).
const std::string& JobIdOf(const polytrain::v1::WorkerMessage& message) {
  static const std::string kNone;
  switch (message.kind_case()) {
    case polytrain::v1::WorkerMessage::kMetrics:
      return message.metrics().job_id();
    case polytrain::v1::WorkerMessage::kStarted:
      return message.started().job_id();
    case polytrain::v1::WorkerMessage::kFinished:
      return message.finished().job_id();
    case polytrain::v1::WorkerMessage::kFailed:
      return message.failed().job_id();
    case polytrain::v1::WorkerMessage::kRendezvous:
      return message.rendezvous().job_id();
    default:
      return kNone;
  }
}

// The index of the first metric point of a kind this coordinator does not know; -1 when none.
int FirstPointOfUnknownKind(const polytrain::v1::WorkerMessage& message) {
  if (!message.has_metrics()) return -1;
  const auto& points = message.metrics().points();
  for (int i = 0; i < points.size(); ++i) {
    if (!polytrain::v1::MetricPoint::Kind_IsValid(points[i].kind())) return i;
  }
  return -1;
}

}  // namespace

absl::Status WorkerProtocol::HandleWithUnknownKinds(int64_t session,
                                                    const polytrain::v1::WorkerMessage& message,
                                                    int first_unknown) {
  polytrain::v1::WorkerMessage known = message;
  auto* points = known.mutable_metrics()->mutable_points();
  std::vector<bool> unknown(points->size(), false);
  std::set<int> kinds;
  for (int i = first_unknown; i < points->size(); ++i) {
    polytrain::v1::MetricPoint& point = (*points)[i];
    if (polytrain::v1::MetricPoint::Kind_IsValid(point.kind())) continue;
    unknown[i] = true;
    kinds.insert(point.kind());
    point.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateWorkerMessage(known));
  int kept = 0;  // the known points moved to the front in their order, the rest cut off
  for (int i = 0; i < points->size(); ++i) {
    if (unknown[i]) continue;
    if (kept != i) points->SwapElements(kept, i);
    ++kept;
  }
  points->DeleteSubrange(kept, points->size() - kept);
  {
    std::lock_guard<std::mutex> lock(unknown_kinds_mu_);
    for (const int kind : kinds) {
      // At most kMaxUnknownKindsLogged kinds are said: a hostile worker's every int32 is not.
      if (unknown_kinds_logged_.size() < kMaxUnknownKindsLogged &&
          unknown_kinds_logged_.insert(kind).second) {
        spdlog::warn(
            "{}: dropped metric points of kind {}, which this coordinator does not know (from a "
            "newer worker?); the rest of their batches are kept (said once per kind)",
            known.metrics().job_id(), kind);
      }
    }
  }
  return Dispatch(session, known);
}

absl::Status WorkerProtocol::Handle(int64_t session, const polytrain::v1::WorkerMessage& message) {
  absl::Status status;
  if (const int first_unknown = FirstPointOfUnknownKind(message); first_unknown >= 0) {
    status = HandleWithUnknownKinds(session, message, first_unknown);
  } else {
    status = ValidateWorkerMessage(message);
    if (status.ok()) status = Dispatch(session, message);
  }
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    // Before the attempt may end: kept with the attempt it was about, for its lease's end.
    if (const std::string& job_id = JobIdOf(message); ValidateJobId("job_id", job_id).ok()) {
      scheduler_->NoteRefusedReport(session, job_id, status.message());
    }
    EndRefusedReport(session, message, status);
    if (metrics_ != nullptr) {
      const auto* kind = polytrain::v1::WorkerMessage::descriptor()->FindFieldByNumber(
          static_cast<int>(message.kind_case()));
      metrics_->WorkerMessageRefused(kind == nullptr ? "none" : kind->name());
    }
  }
  return status;
}

void WorkerProtocol::EndRefusedReport(int64_t session, const polytrain::v1::WorkerMessage& message,
                                      const absl::Status& why) {
  // A result or a failure refused for what it holds (a value out of its meaning, steps past
  // spec.max_steps) still ends its attempt, saying why: dropped alone, the job would wait out its
  // lease and fail for that, the reason in the logs only (probes CK, CP). Only a report that
  // names its job and attempt (an attempt of 0 would match any).
  polytrain::v1::JobFailed failed;
  if (message.has_finished()) {
    failed.set_job_id(message.finished().job_id());
    failed.set_attempt(message.finished().attempt());
    failed.set_error(absl::StrCat("the worker's result was refused: ", why.message()));
  } else if (message.has_failed()) {
    failed = message.failed();  // as it was reported, but for the steps it was refused for
    failed.set_steps(0);
    failed.set_error(failed.error().empty()
                         ? absl::StrCat("the worker's failure report was refused: ", why.message())
                         : absl::StrCat(CutError(failed.error()),
                                        " (the worker's report of it was refused: ", why.message(),
                                        ")"));
  } else {
    return;
  }
  if (!ValidateJobId("job_id", failed.job_id()).ok() || failed.attempt() < 1) return;
  (void)scheduler_->AttemptFailed(session, failed);  // a job it does not hold: dropped
}

absl::Status WorkerProtocol::Dispatch(int64_t session,
                                      const polytrain::v1::WorkerMessage& message) {
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

absl::StatusOr<std::string> WorkerProtocol::StoreArtifact(
    const std::string& job_id, int32_t attempt, const std::string& path,
    const std::function<absl::Status()>& publish) {
  return scheduler_->StoreArtifact(job_id, attempt, path, publish);
}

}  // namespace polytrain
