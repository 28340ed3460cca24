// polyctl's connection to the coordinator: a channel with TLS and the token as the flags say,
// unary calls with a deadline, a job's event stream (WatchJob), and file uploads
// (UploadArtifact).
#ifndef POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_
#define POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_security.h"
#include "common/grpc_status.h"
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
    const grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    return Result(status, std::move(response));
  }

  // Uploads the file at `path` as an artifact called `name`: its SHA-256 first, then its bytes
  // in 1 MiB chunks (the coordinator checks one against the other).
  absl::StatusOr<polytrain::v1::Artifact> Upload(const std::string& path, const std::string& name);

  // A coordinator that answered before and is now away (a restart), as a watch sees it: whether
  // to try again (after a pause of the caller's), saying so on stderr the first time, until
  // the rewatch seconds have passed. Reset() once it answers again.
  class Outage {
   public:
    // `quiet`: says nothing on stderr.
    explicit Outage(double patience_seconds, bool quiet = false)
        : patience_(patience_seconds), quiet_(quiet) {}
    bool TryAgain(const std::string& why);
    void Reset() { away_ = false; }

   private:
    std::chrono::duration<double> patience_;
    bool quiet_;
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
  // `connected`: the call got an answer before it failed (no connection hint then: TLS and the
  // address were right).
  template <typename Response>
  absl::StatusOr<Response> Result(const grpc::Status& status, Response response,
                                  bool connected = false) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach the coordinator at ", address_, ": ", status.error_message(),
                       connected ? "" : ConnectionHint(security_, status.error_message())));
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
  std::unique_ptr<polytrain::v1::Coordinator::Stub> stub_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_COORDINATOR_CLIENT_H_
