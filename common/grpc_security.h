// TLS and bearer tokens on both ends of PolyTrain's gRPC connections.
//
// The flags themselves are registered by cli/security_flags.h.
//
// Server: TLS with --tls_cert/--tls_key (and --tls_client_ca to verify client certificates,
// mutual TLS for workers); plaintext only with an explicit --plaintext and a loopback address.
// Client: TLS when --tls_ca is given (--tls_cert/--tls_key add a client certificate); plaintext
// only to a loopback address. A token (--token_file or $POLYTRAIN_TOKEN) goes with every call as
// "authorization: Bearer <token>".
#ifndef POLYTRAIN_COMMON_GRPC_SECURITY_H_
#define POLYTRAIN_COMMON_GRPC_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/server_credentials.h"

namespace polytrain {

// "127.0.0.1:50051", "[::1]:0", "localhost:80", "unix:..." are loopback; "0.0.0.0:50051",
// "10.0.0.5:1" or a DNS name are not.
bool IsLoopbackAddress(absl::string_view address);

struct ServerSecurityOptions {
  std::string tls_cert;       // PEM certificate chain
  std::string tls_key;        // PEM private key
  std::string tls_client_ca;  // PEM CA bundle: verify client certificates that are presented
  bool plaintext = false;
};

// Credentials for listening on `address`; INVALID_ARGUMENT naming the flag when the options do
// not fit together, a file cannot be read, or plaintext is asked for on a non-loopback address.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityOptions& options, absl::string_view address);

struct ClientSecurityOptions {
  std::string tls_ca;           // PEM CA bundle that signed the coordinator's certificate
  std::string tls_cert;         // PEM client certificate (mutual TLS)
  std::string tls_key;          // its private key
  std::string tls_server_name;  // expected name in the server certificate, if not the host
  std::string token_file;       // file holding the bearer token
  std::string token;            // filled by MakeChannel from token_file or $POLYTRAIN_TOKEN
};

// Channels from MakeChannel ping a silent coordinator this often (and give up on it when a ping
// goes unanswered as long); the coordinator accepts pings at twice this rate.
inline constexpr int kClientKeepaliveSeconds = 20;
// The longest wait between two dials of a coordinator that is away.
inline constexpr int kMaxReconnectBackoffMs = 2000;

// A token a user may mint: kMinTokenLength to kMaxTokenLength printable ASCII characters without
// spaces. The coordinator's --hash_token takes no other, and clients send no other, so that a
// file holding something else (a certificate, a megabyte of junk) is named, not sent.
inline constexpr size_t kMinTokenLength = 16;
inline constexpr size_t kMaxTokenLength = 4096;
// INVALID_ARGUMENT naming `what` (e.g. "--token_file t.txt") unless `token` has that shape.
absl::Status CheckTokenShape(absl::string_view token, absl::string_view what = "token");

// INVALID_ARGUMENT naming --coordinator unless `target` is HOST:PORT ([V6]:PORT; a dns:, ipv4: or
// ipv6: scheme may come first) with a port in [1, 65535], or unix:PATH. gRPC would dial port 0,
// or port 99999 mod 65536.
absl::Status CheckTarget(absl::string_view target);

// A channel to `target`, and loads the token into options->token. INVALID_ARGUMENT naming the
// flag for unreadable files, a half-given client certificate, or plaintext to a non-loopback
// target.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(absl::string_view target,
                                                           ClientSecurityOptions* options);

// Attaches the token (if any) to one call.
void AddToken(const ClientSecurityOptions& options, grpc::ClientContext* context);

// What to add to a failed connection's error: a plaintext client whose stream a TLS server
// closed sees only "Socket closed", so it is told to give --tls_ca. Empty otherwise.
std::string ConnectionHint(const ClientSecurityOptions& options, absl::string_view error);
// The part of ConnectionHint that leaves no doubt: a TLS client whose handshake failed for its
// configuration (a CA that did not sign the coordinator's certificate, a certificate for
// another name, a peer that does not speak TLS), never a closed connection, which a proxy in
// front of a coordinator not up yet gives too. Empty otherwise.
std::string TlsMismatchHint(const ClientSecurityOptions& options, absl::string_view error);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_GRPC_SECURITY_H_
