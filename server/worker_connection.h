// One worker's stream (WorkerService.Connect): reads the hello and then each message into the
// WorkerProtocol, acknowledging what it stored; writes what the Scheduler sends, one write in
// flight at a time. Messages travel as bytes: one that does not parse ends the stream with
// INVALID_ARGUMENT naming why.
#ifndef POLYTRAIN_SERVER_WORKER_CONNECTION_H_
#define POLYTRAIN_SERVER_WORKER_CONNECTION_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/rate_limited_log.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "polytrain/v1/worker.pb.h"
#include "server/worker_call_refusals.h"
#include "server/worker_protocol.h"

namespace polytrain {

class WorkerConnection final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                               public WorkerChannel {
 public:
  // A refused `access` finishes the stream at once; an accepted one is the name of the worker
  // token it came with (empty without tokens). A refused hello goes to `refusals`; the stream's
  // start and end are logged with `peer`. Deletes itself when the stream is done.
  WorkerConnection(WorkerProtocol* protocol, const absl::StatusOr<WorkerToken>& access,
                   RefusalLog refusals = nullptr, std::string peer = "");

  void Send(const polytrain::v1::CoordinatorMessage& message) override;
  // Finishes the stream with `status`; the pending read then ends and the session with it.
  void Close(const absl::Status& status) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  void WriteNextLocked();
  // `refused`: why the message of `sequence` was refused for good (empty: it was handled).
  void SendAck(uint64_t sequence, absl::string_view refused = {});
  // The Scheduler forgets the session (its jobs wait a lease for the worker to come back).
  void EndSession();
  // Stops taking messages from the Scheduler and finishes once no write is in flight.
  void CloseWith(const grpc::Status& status);
  // The part of both closes under mu_: the stream finishes once, with the first status.
  void FinishOnce(const grpc::Status& status);

  WorkerProtocol* protocol_;
  const RefusalLog refusals_;
  const std::string peer_;
  int64_t session_ = -1;
  std::string worker_name_;  // from its hello
  // The messages refused for good, a few a minute, then counted: a worker token must not be
  // able to fill the coordinator's log (probe CP: 3000 lines in 0.3 s).
  RateLimitedLog refused_log_;
  WorkerToken token_;  // the worker token it came with
  grpc::ByteBuffer incoming_bytes_;
  polytrain::v1::WorkerMessage incoming_;
  std::mutex mu_;
  std::deque<polytrain::v1::CoordinatorMessage> outgoing_;
  grpc::ByteBuffer current_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_WORKER_CONNECTION_H_
