#include "server/access_control.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"

namespace polytrain {

absl::StatusOr<Principal> AccessControl::Authenticate(const grpc::ServerContextBase& context,
                                                      const char* protocol) const {
  std::shared_ptr<const TokenAuthenticator> tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens = tokens_;
  }
  if (tokens == nullptr) return Principal{"", Role::kAdmin, ""};
  const auto& metadata = context.client_metadata();
  // Two tokens (say, one a proxy added) would make who calls a matter of their order: refused.
  if (const size_t given = metadata.count(kAuthorizationMetadataKey); given > 1) {
    return Refuse(context, protocol,
                  absl::UnauthenticatedError(
                      absl::StrCat("authorization: given ", given, " times; send one token")));
  }
  const auto it = metadata.find(kAuthorizationMetadataKey);
  if (it != metadata.end() &&
      absl::StripAsciiWhitespace(absl::string_view(it->second.data(), it->second.size())).empty()) {
    return Refuse(context, protocol,
                  absl::UnauthenticatedError(
                      "authorization: empty; send 'Bearer <token>' (or leave it out for "
                      "no token)"));
  }
  absl::StatusOr<Principal> principal = tokens->Authenticate(
      it == metadata.end() ? absl::string_view()
                           : absl::string_view(it->second.data(), it->second.size()));
  if (!principal.ok()) return Refuse(context, protocol, principal.status());
  return principal;
}

absl::Status AccessControl::Refuse(const grpc::ServerContextBase& context, const char* protocol,
                                   absl::Status status) const {
  failures_.Record(context.peer(), status);
  if (count_refusal_) count_refusal_(protocol, status.code());
  return status;
}

void AccessControl::RecordRefusedRequest(const std::string& peer,
                                         const absl::Status& status) const {
  failures_.Record(peer, status);
  if (count_refusal_) count_refusal_("client", status.code());
}

void AccessControl::ReplaceTokens(std::shared_ptr<const TokenAuthenticator> tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(tokens);
}

absl::StatusOr<Caller> AccessControl::ClientCaller(const grpc::ServerContextBase& context) const {
  absl::StatusOr<Principal> principal = Authenticate(context, "client");
  if (!principal.ok()) return principal.status();
  switch (principal->role) {
    case Role::kAdmin:
      return Caller::Admin(principal->name);
    case Role::kClient:
      return Caller::Client(principal->name);
    case Role::kWorker:
      break;
  }
  return Refuse(context, "client",
                absl::PermissionDeniedError(
                    absl::StrCat("token of worker '", principal->name,
                                 "': a worker token may only speak the worker protocol")));
}

absl::StatusOr<WorkerToken> AccessControl::CheckWorker(
    const grpc::ServerContextBase& context) const {
  if (worker_certificate_required_) {
    const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth == nullptr || !auth->IsPeerAuthenticated()) {
      return Refuse(
          context, "worker",
          absl::UnauthenticatedError("workers must present a client certificate signed by the "
                                     "coordinator's --tls_client_ca (polytrain-worker "
                                     "--tls_cert/--tls_key)"));
    }
  }
  absl::StatusOr<Principal> principal = Authenticate(context, "worker");
  if (!principal.ok()) return principal.status();
  if (principal->role == Role::kClient) {
    return Refuse(
        context, "worker",
        absl::PermissionDeniedError(absl::StrCat("token of client '", principal->name,
                                                 "': the worker protocol needs a worker token")));
  }
  return WorkerToken{principal->name, principal->fingerprint};
}

}  // namespace polytrain
