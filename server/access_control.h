// Who may call what: turns a call's bearer token (and, for workers under mutual TLS, its client
// certificate) into a Caller, or refuses it with UNAUTHENTICATED / PERMISSION_DENIED.
#ifndef POLYTRAIN_SERVER_ACCESS_CONTROL_H_
#define POLYTRAIN_SERVER_ACCESS_CONTROL_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "server/auth_failure_log.h"
#include "server/caller.h"
#include "server/token_authenticator.h"

namespace polytrain {

class AccessControl {
 public:
  // `tokens` null: no authentication, every caller is an anonymous admin. With
  // `worker_certificate_required`, worker-protocol calls must come over TLS with a verified client
  // certificate (the server verifies any certificate presented against --tls_client_ca).
  AccessControl(std::shared_ptr<const TokenAuthenticator> tokens, bool worker_certificate_required)
      : tokens_(std::move(tokens)), worker_certificate_required_(worker_certificate_required) {}

  // Checks every later call against `tokens` (a reloaded --tokens file, never null); calls
  // already under way keep the access they were given.
  void ReplaceTokens(std::shared_ptr<const TokenAuthenticator> tokens);

  // Called with each refusal's protocol ("client" or "worker") and code, for /metrics. Set
  // before the first call is served.
  using RefusalCounter = std::function<void(const std::string& protocol, absl::StatusCode code)>;
  void CountRefusalsWith(RefusalCounter counter) { count_refusal_ = std::move(counter); }

  // A request of an authenticated client refused for what it asked (PERMISSION_DENIED: another
  // user's job, sweep or file, a priority above the policy): logged with its peer and counted as
  // a token's refusal is, so that a token probing other users' ids shows in both.
  void RecordRefusedRequest(const std::string& peer, const absl::Status& status) const;
  // The same count for a worker's request refused for what it asked (another worker's job's
  // checkpoint, a session key not its own), which the worker service logs itself.
  void CountRefusedWorkerRequest(absl::StatusCode code) const {
    if (count_refusal_) count_refusal_("worker", code);
  }

  // The Coordinator service: a client token acts on its own jobs, an admin token on all.
  absl::StatusOr<Caller> ClientCaller(const grpc::ServerContextBase& context) const;
  // The WorkerService: a worker or admin token (and the certificate, when required). Returns the
  // token (empty without --tokens): the worker names it connects under are bound to its name
  // while they run jobs, and a reload that drops it closes the stream (Scheduler).
  absl::StatusOr<WorkerToken> CheckWorker(const grpc::ServerContextBase& context) const;

 private:
  // `protocol`: "client" or "worker", for the refusal count.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context,
                                         const char* protocol) const;

  // Refuses with `status`, logged with the caller's peer and counted.
  absl::Status Refuse(const grpc::ServerContextBase& context, const char* protocol,
                      absl::Status status) const;

  mutable std::mutex mu_;
  std::shared_ptr<const TokenAuthenticator> tokens_;  // guarded by mu_
  const bool worker_certificate_required_;
  mutable AuthFailureLog failures_;
  RefusalCounter count_refusal_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ACCESS_CONTROL_H_
