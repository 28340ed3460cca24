// polyctl's connection to the coordinator: a channel with TLS and the token as the flags say,
// unary calls with a deadline, a job's event stream (WatchJob), and file uploads
// (UploadArtifact).
#ifndef POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_
#define POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_security.h"
#include "common/grpc_status.h"
#include "common/random_key.h"
#include "polytrain/v1/coordinator.grpc.pb.h"

namespace polytrain {

class CoordinatorClient {
 public:
  // A bad TLS or token flag shows up at the first call (offline commands never make one).
  CoordinatorClient(std::string address, ClientSecurityOptions security);

  // Calls a unary method with a 30 s deadline; UNAVAILABLE names the address.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (polytrain::v1::Coordinator::Stub::*method)(
                                    grpc::ClientContext*, const Request&, Response*),
                                const Request& request) {
    if (!status_.ok()) return status_;
    grpc::ClientContext context;
    Prepare(&context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    Response response;
    // Reached before: then no hint about TLS or the address, and the call was cut.
    const bool reached_before = answered_ || Connected(context.deadline());
    const grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    // A deadline passed is no answer either: the address may lead nowhere.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::CANCELLED &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      answered_ = true;
    }
    return Result(status, std::move(response), reached_before);
  }

  // Whether the coordinator answered a call of this client, or a connection to it was up before
  // one was sent: a change asked of it (a cancel, a deletion) that failed UNAVAILABLE or
  // DEADLINE_EXCEEDED since may have been made.
  bool reached() const { return answered_ || connected_; }
  const std::string& address() const { return address_; }

  // A call that stores something (SubmitJob, SubmitSweep), made safe to send again by its
  // client_request_id (a new random one, "polyctl-" and 16 hex digits, when it has none): when
  // the coordinator answered this client before (a ListJobs first, if nothing has) and then goes
  // away before answering it (UNAVAILABLE, or a restart's CANCELLED, which Result() makes
  // UNAVAILABLE), it may have stored the request already; the same request goes again until it
  // is answered or --reconnect-seconds pass, and a coordinator that stored it answers with what
  // it stored. A coordinator never reached is an error at once, as for Call.
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallAgainWhileAway(
      grpc::Status (polytrain::v1::Coordinator::Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*),
      Request request) {
    if (request.client_request_id().empty()) {
      request.set_client_request_id(absl::StrCat("polyctl-", RandomHexKey(8)));
    }
    if (!answered_) {
      polytrain::v1::ListJobsRequest probe;
      probe.set_page_size(1);
      absl::StatusOr<polytrain::v1::ListJobsResponse> reached =
          Call(&polytrain::v1::Coordinator::Stub::ListJobs, probe);
      if (!answered_) return reached.status();
    }
    absl::StatusOr<Response> response = Call(method, request);
    Outage outage(rewatch_seconds_, /*quiet=*/false, "sending it again");
    auto backoff = std::chrono::milliseconds(200);
    while (absl::IsUnavailable(response.status()) &&
           outage.TryAgain(absl::StrCat("the coordinator went away before it answered (",
                                        response.status().message(),
                                        "): it may have stored the request (request id ",
                                        request.client_request_id(), ", stored at most once)"))) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      ++sent_again_;
      response = Call(method, request);
    }
    return response;
  }
  // Downloads the job's newest stored checkpoint (DownloadCheckpoint) into `path` as a
  // ChunkedFileWriter writes (a temporary file beside it, checked against the size and CRC-32
  // the last chunk carries, then renamed), so `path` is the whole checkpoint or untouched
  // (ALREADY_EXISTS, nothing written, when it exists; DATA_LOSS when what came differs from the
  // coordinator's record). With `best`, the job's best checkpoint (Job.best_checkpoint) instead.
  // Returns the first chunk (its name and step; no data).
  absl::StatusOr<polytrain::v1::CheckpointChunk> DownloadCheckpoint(const std::string& job_id,
                                                                    const std::string& path,
                                                                    bool best = false);
  // How many times CallAgainWhileAway sent a request again (any thread may ask).
  int sent_again() const { return sent_again_; }

  // Uploads the file at `path` as an artifact called `name`: its SHA-256 first, then its bytes
  // in 1 MiB chunks (the coordinator checks one against the other).
  absl::StatusOr<polytrain::v1::Artifact> Upload(const std::string& path, const std::string& name);

  // A coordinator that answered before and is now away (a restart), as a watch sees it: whether
  // to try again (after a pause of the caller's), saying so on stderr the first time, until
  // the rewatch seconds have passed. Reset() once it answers again.
  class Outage {
   public:
    // `quiet`: says nothing on stderr; `action`: what is done meanwhile, as stderr says it.
    explicit Outage(double patience_seconds, bool quiet = false,
                    std::string action = "watching again")
        : patience_(patience_seconds), quiet_(quiet), action_(std::move(action)) {}
    bool TryAgain(const std::string& why);
    void Reset() { away_ = false; }

   private:
    std::chrono::duration<double> patience_;
    bool quiet_;
    std::string action_;
    bool away_ = false;
    std::chrono::steady_clock::time_point since_;
  };
  Outage NewOutage() const { return Outage(rewatch_seconds_); }

  // Streams the job's events (WatchJob) into `on_event` until the job ends; returns the last
  // state of the job seen. A coordinator that goes away after the watch began (a restart) is
  // watched again for up to --reconnect-seconds (set_rewatch_seconds), and a watch the
  // coordinator ended because this client fell behind at once; either resumes after the
  // newest point passed on, so each point is passed on once, and the job when it changed.
  static constexpr double kDefaultRewatchSeconds = 120;
  void set_rewatch_seconds(double seconds) { rewatch_seconds_ = seconds; }
  absl::StatusOr<polytrain::v1::Job> Watch(
      const std::string& job_id,
      const std::function<void(const polytrain::v1::JobEvent&)>& on_event);

 private:
  void Prepare(grpc::ClientContext* context) const { AddToken(security_, context); }
  // Brings the channel's connection up (TCP, TLS, HTTP/2) unless it is known to fail, by
  // `deadline`: whether it is up. The call that follows goes on it.
  bool Connected(std::chrono::system_clock::time_point deadline);
  // `connected`: the coordinator answered or a connection to it was up before the call failed
  // (no connection hint then: TLS and the address were right; the call was cut).
  template <typename Response>
  absl::StatusOr<Response> Result(const grpc::Status& status, Response response,
                                  bool connected = false) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return absl::UnavailableError(
          connected ? absl::StrCat("lost the connection to the coordinator at ", address_,
                                   " (it stopped or restarted?): ", status.error_message())
                    : absl::StrCat("cannot reach the coordinator at ", address_, ": ",
                                   status.error_message(),
                                   ConnectionHint(security_, status.error_message())));
    }
    // polyctl cancels no call of its own: a cancelled one was ended by a coordinator shutting
    // down or restarting, which is an outage, not a job's outcome.
    if (status.error_code() == grpc::StatusCode::CANCELLED) {
      return absl::UnavailableError(absl::StrCat(
          "the coordinator at ", address_,
          " ended the call (it is shutting down or restarting): ", status.error_message()));
    }
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  std::string address_;
  ClientSecurityOptions security_;
  absl::Status status_;
  double rewatch_seconds_ = kDefaultRewatchSeconds;
  std::atomic<bool> answered_{false};   // a call got the coordinator's answer (any status)
  std::atomic<bool> connected_{false};  // a connection to it was up (READY) at some point
  std::atomic<int> sent_again_{0};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<polytrain::v1::Coordinator::Stub> stub_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_
