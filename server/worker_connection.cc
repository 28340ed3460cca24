#include "server/worker_connection.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/limits.h"
#include "common/grpc_status.h"
#include "common/utf8_text.h"
#include "server/request_bytes.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::CoordinatorMessage;

WorkerConnection::WorkerConnection(WorkerProtocol* protocol,
                                   const absl::StatusOr<WorkerToken>& access, RefusalLog refusals,
                                   std::string peer)
    : protocol_(protocol),
      refusals_(std::move(refusals)),
      peer_(std::move(peer)),
      refused_log_([](const std::string& line) { spdlog::warn("{}", line); },
                   [this](int64_t unwritten, int written) {
                     return absl::StrCat("refused ", unwritten, " more message(s) from worker ",
                                         worker_name_, " since ", written,
                                         " were logged (each counted in "
                                         "polytrain_worker_messages_refused_total)");
                   },
                   10, std::chrono::seconds(60)) {
  if (!access.ok()) {
    CloseWith(ToGrpcStatus(access.status()));
    return;
  }
  token_ = *access;
  StartRead(&incoming_bytes_);
}

void WorkerConnection::Send(const CoordinatorMessage& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_) return;
  outgoing_.push_back(message);
  if (!writing_) WriteNextLocked();
}

void WorkerConnection::OnReadDone(bool ok) {
  if (!ok) {
    CloseWith(grpc::Status::OK);
    return;
  }
  // A newer worker's fields are dropped: workers may be upgraded before their coordinator.
  if (absl::Status parsed = ParseRequest(incoming_bytes_, &incoming_, UnknownFields::kDrop);
      !parsed.ok()) {
    spdlog::warn("refused a worker stream from {}{}: {}", peer_.empty() ? "an unknown peer" : peer_,
                 worker_name_.empty() ? "" : absl::StrCat(" (worker ", worker_name_, ")"),
                 std::string(parsed.message()));
    CloseWith(ToGrpcStatus(parsed));
    return;
  }
  if (session_ < 0) {
    absl::StatusOr<int64_t> session =
        incoming_.has_hello()
            ? protocol_->Connected(incoming_.hello(), this, token_)
            : absl::FailedPreconditionError("the first message on a worker stream must be a hello");
    if (!session.ok()) {
      if (refusals_ != nullptr) refusals_(session.status());
      CloseWith(ToGrpcStatus(session.status()));
      return;
    }
    session_ = *session;
    worker_name_ = incoming_.hello().name();
    spdlog::info("worker {} connected from {} ({} slot(s){})", worker_name_,
                 peer_.empty() ? "an unknown peer" : peer_,
                 std::max(1, incoming_.hello().slots()),  // 0: not said, which counts as 1
                 incoming_.hello().devices().empty()
                     ? ""
                     : absl::StrCat(", ", absl::StrJoin(incoming_.hello().devices(), ", ")));
  } else if (absl::Status s = protocol_->Handle(session_, incoming_);
             s.code() == absl::StatusCode::kInvalidArgument) {
    // Refused for good: acknowledged so the worker does not send it again at every reconnect.
    refused_log_.Write([&] {
      return absl::StrCat("refused a message from worker ", worker_name_, ": ", s.message());
    });
    if (incoming_.sequence() != 0) SendAck(incoming_.sequence(), s.message());
  } else if (s.code() == absl::StatusCode::kFailedPrecondition) {
    // Out of protocol (a second hello), or a session the Scheduler already let go (a revoked
    // token, a worker replaced by its reconnect, a shutdown): the stream ends. Only the first is
    // the worker's doing.
    if (refusals_ != nullptr && incoming_.has_hello()) refusals_(s);
    CloseWith(ToGrpcStatus(s));
    return;
  } else if (!s.ok()) {
    // E.g. the store failed (a full disk): the worker sends it again when it reconnects, backing
    // off. Said here, where the operator looks, not only in the worker's log.
    spdlog::error("closing worker {}'s stream: {} (it sends the message again)", worker_name_,
                  std::string(s.message()));
    CloseWith(ToGrpcStatus(s));
    return;
  } else if (incoming_.sequence() != 0) {
    SendAck(incoming_.sequence());  // stored: the worker may forget it
  }
  StartRead(&incoming_bytes_);
}

void WorkerConnection::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (!ok) {
    outgoing_.clear();
  } else if (!outgoing_.empty()) {
    WriteNextLocked();
    return;
  }
  if (finishing_ && !finished_) {
    finished_ = true;
    Finish(final_status_);
  }
}

void WorkerConnection::OnDone() {
  EndSession();
  delete this;
}

void WorkerConnection::EndSession() {
  if (session_ < 0) return;
  protocol_->Disconnected(session_);
  session_ = -1;
  spdlog::info("worker {} disconnected", worker_name_);
}

void WorkerConnection::WriteNextLocked() {
  // Serializing fails only for a message over 2 GiB, which the Scheduler never sends.
  (void)SerializeResponse(outgoing_.front(), &current_);
  outgoing_.pop_front();
  writing_ = true;
  StartWrite(&current_);
}

void WorkerConnection::SendAck(uint64_t sequence, absl::string_view refused) {
  auto set = [&](polytrain::v1::Ack* ack) {
    ack->set_sequence(std::max(ack->sequence(), sequence));
    if (!refused.empty()) {
      ack->set_refused_sequence(sequence);
      // Valid UTF-8, cut between characters: a proto3 string must be, or the ack does not parse.
      const std::string valid = ToValidUtf8(refused);
      ack->set_refused(std::string(Utf8Prefix(valid, kMaxErrorLength)));
    }
  };
  {
    // An ack covers every message up to its sequence: one still queued is raised (keeping the
    // newest refusal) instead of queueing another, so a worker that sends without reading cannot
    // grow the queue.
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    if (!outgoing_.empty() && outgoing_.back().has_ack()) {
      set(outgoing_.back().mutable_ack());
      return;
    }
  }
  CoordinatorMessage ack;
  set(ack.mutable_ack());
  Send(ack);
}

void WorkerConnection::Close(const absl::Status& status) {
  // From the Scheduler, under its lock: the session is left to the read that this ends.
  FinishOnce(ToGrpcStatus(status));
}

void WorkerConnection::CloseWith(const grpc::Status& status) {
  EndSession();
  FinishOnce(status);
}

void WorkerConnection::FinishOnce(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_) return;  // the first reason stands
  finishing_ = true;
  final_status_ = status;
  outgoing_.clear();
  if (!writing_ && !finished_) {
    finished_ = true;
    Finish(status);
  }
}

}  // namespace polytrain
