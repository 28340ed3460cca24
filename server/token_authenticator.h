// Bearer-token authentication for the coordinator. Tokens live in a file (--tokens) as SHA-256
// hashes, one per line:
//
//   # role   name    hash of the token
//   client   alice   sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   worker   pool-a  sha256:...
//   admin    ops     sha256:...
//
// A presented token is hashed and compared with every stored hash in constant time, so neither
// the file nor the timing of a refusal gives a token away; tokens themselves are never stored,
// logged or exported.
#ifndef POLYTRAIN_SERVER_TOKEN_AUTHENTICATOR_H_
#define POLYTRAIN_SERVER_TOKEN_AUTHENTICATOR_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// client: submits, reads and cancels its own jobs. worker: speaks only the worker protocol.
// admin: everything, every job.
enum class Role { kClient, kWorker, kAdmin };

absl::string_view RoleName(Role role);

struct Principal {
  std::string name;
  Role role = Role::kAdmin;
  // The SHA-256 of the token it presented, in hex (the tokens file's form without "sha256:").
  std::string fingerprint;
};

// The form stored in a tokens file: "sha256:" and 64 lowercase hex digits.
std::string HashToken(absl::string_view token);

class TokenAuthenticator {
 public:
  static constexpr int kMaxTokens = 10000;
  static constexpr int kMaxNameLength = 64;

  // Parses a tokens file's text; errors name `source` and the line.
  static absl::StatusOr<TokenAuthenticator> Parse(absl::string_view text, absl::string_view source);
  static absl::StatusOr<TokenAuthenticator> ReadFile(const std::string& path);

  // `authorization` is the request's "authorization" metadata value ("Bearer <token>"), empty
  // when absent. UNAUTHENTICATED when it is missing, malformed or unknown.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

  size_t size() const { return entries_.size(); }
  // Whether the token of `fingerprint` (Principal::fingerprint) is in the file and may speak the
  // worker protocol (a worker or admin token).
  bool HasWorkerToken(absl::string_view fingerprint) const;

 private:
  struct Entry {
    std::array<uint8_t, 32> hash;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_TOKEN_AUTHENTICATOR_H_
