#include "common/grpc_security.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flag_file.h"
#include "common/host_port.h"
#include "common/pem_check.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace polytrain {
namespace {

// Certificates, keys and tokens are a few kB; a bigger file is a mistake (/dev/zero).
constexpr int64_t kMaxFlagFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadCredentialFile(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFlagFile(flag, path, kMaxFlagFileBytes);
  if (text.ok() && text->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": empty"));
  }
  return text;
}

// The host part of "host:port", "[v6]:port", "dns:///host:port" or "ipv4:host:port".
absl::string_view HostOf(absl::string_view address) {
  address = WithoutScheme(address);
  if (absl::ConsumePrefix(&address, "[")) return address.substr(0, address.find(']'));
  const size_t colon = address.rfind(':');
  return colon == absl::string_view::npos ? address : address.substr(0, colon);
}

}  // namespace

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return true;
  const absl::string_view host = HostOf(address);
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8: four numbers, the first 127.
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (absl::string_view part : parts) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value) || value < 0 || value > 255) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityOptions& options, absl::string_view address) {
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (options.plaintext) {
    if (tls || !options.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--plaintext: cannot be combined with --tls_* flags");
    }
    if (!IsLoopbackAddress(address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--plaintext: only on a loopback address (127.0.0.1, ::1, localhost), not ",
                       address, "; give --tls_cert and --tls_key to serve other hosts"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (!tls) {
    return absl::InvalidArgumentError(
        "--tls_cert/--tls_key: give a certificate and key, or --plaintext on a loopback address");
  }
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.tls_cert.empty() ? "--tls_cert" : "--tls_key", ": needed with the other"));
  }
  absl::StatusOr<std::string> cert = ReadCredentialFile("--tls_cert", options.tls_cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadCredentialFile("--tls_key", options.tls_key);
  if (!key.ok()) return key.status();
  const PemFile cert_file{"--tls_cert", options.tls_cert, *cert};
  POLYTRAIN_RETURN_IF_ERROR(CheckCertificates(cert_file, /*check_validity=*/true));
  POLYTRAIN_RETURN_IF_ERROR(CheckCertificateUse(cert_file, CertificateUse::kTlsServer));
  POLYTRAIN_RETURN_IF_ERROR(CheckKeyOfCertificate({"--tls_key", options.tls_key, *key}, cert_file));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadCredentialFile("--tls_client_ca", options.tls_client_ca);
    if (!ca.ok()) return ca.status();
    POLYTRAIN_RETURN_IF_ERROR(
        CheckCertificates({"--tls_client_ca", options.tls_client_ca, *ca}, false));
    ssl.pem_root_certs = *ca;
    // Verified when presented; the worker service then insists on one (clients need none).
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

absl::Status CheckTokenShape(absl::string_view token, absl::string_view what) {
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat(what,
                       ": a token is one line of printable ASCII characters without spaces, "
                       "got a byte ",
                       absl::StrFormat("0x%02x", static_cast<unsigned char>(c))));
    }
  }
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": a token has ", kMinTokenLength, " to ",
                                                   kMaxTokenLength, " characters, got ",
                                                   token.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckTarget(absl::string_view target) {
  return CheckHostPort("--coordinator", target, 1, kCoordinatorAddressHelp);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(absl::string_view target,
                                                           ClientSecurityOptions* options) {
  POLYTRAIN_RETURN_IF_ERROR(CheckTarget(target));
  std::string token_source = "the token";
  if (!options->token_file.empty()) {
    absl::StatusOr<std::string> token = ReadCredentialFile("--token_file", options->token_file);
    if (!token.ok()) return token.status();
    options->token = std::string(absl::StripAsciiWhitespace(*token));
    token_source = absl::StrCat("--token_file ", options->token_file);
  } else if (const char* env = std::getenv("POLYTRAIN_TOKEN"); env != nullptr) {
    options->token = std::string(absl::StripAsciiWhitespace(env));
    token_source = "$POLYTRAIN_TOKEN";
    // An empty variable sends no token, as an unset one; one of blanks is a mistake.
    if (options->token.empty() && *env != '\0') {
      return absl::InvalidArgumentError(
          "$POLYTRAIN_TOKEN: only whitespace, no token (unset it to send none)");
    }
  }
  // Sent as no token at all, which the coordinator refuses only after the call (probe DF).
  if (!options->token_file.empty() && options->token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(token_source, ": only whitespace, no token"));
  }
  // gRPC aborts the process on a header value outside printable ASCII; the coordinator's tokens
  // never have one (nor a space).
  if (!options->token.empty()) {
    POLYTRAIN_RETURN_IF_ERROR(CheckTokenShape(options->token, token_source));
  }
  if (options->tls_cert.empty() != options->tls_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options->tls_cert.empty() ? "--tls_cert" : "--tls_key", ": needed with the other"));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  // A coordinator whose host died without a word is noticed in seconds (the worker then dials
  // again), not after TCP's quarter of an hour.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kClientKeepaliveSeconds * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kClientKeepaliveSeconds * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A coordinator that was away for a minute is dialled again within 2 s of its return, not
  // after gRPC's backoff has grown towards its default of 120 s (a call meanwhile fails fast).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  if (options->tls_ca.empty()) {
    if (!options->tls_cert.empty()) {
      return absl::InvalidArgumentError("--tls_ca: needed with --tls_cert");
    }
    if (!options->tls_server_name.empty()) {
      return absl::InvalidArgumentError("--tls_ca: needed with --tls_server_name");
    }
    if (!IsLoopbackAddress(target)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls_ca: needed to reach ", target,
          " (plaintext only to a loopback address, so that tokens never cross a network)"));
    }
    return grpc::CreateCustomChannel(std::string(target), grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadCredentialFile("--tls_ca", options->tls_ca);
  if (!ca.ok()) return ca.status();
  POLYTRAIN_RETURN_IF_ERROR(CheckCertificates({"--tls_ca", options->tls_ca, *ca}, false));
  ssl.pem_root_certs = *ca;
  if (!options->tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadCredentialFile("--tls_cert", options->tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadCredentialFile("--tls_key", options->tls_key);
    if (!key.ok()) return key.status();
    const PemFile cert_file{"--tls_cert", options->tls_cert, *cert};
    POLYTRAIN_RETURN_IF_ERROR(CheckCertificates(cert_file, /*check_validity=*/true));
    POLYTRAIN_RETURN_IF_ERROR(CheckCertificateUse(cert_file, CertificateUse::kTlsClient));
    POLYTRAIN_RETURN_IF_ERROR(
        CheckKeyOfCertificate({"--tls_key", options->tls_key, *key}, cert_file));
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  if (!options->tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options->tls_server_name);
  }
  return grpc::CreateCustomChannel(std::string(target), grpc::SslCredentials(ssl), args);
}

std::string ConnectionHint(const ClientSecurityOptions& options, absl::string_view error) {
  if (options.tls_ca.empty() && absl::StrContains(error, "Socket closed")) {
    return " (this client speaks plaintext: if the coordinator serves TLS, give --tls_ca)";
  }
  // A client certificate the coordinator cannot verify ends the TLS handshake on its side, after
  // this side took the handshake as done (TLS 1.3): all this side sees is the connection closed.
  if (!options.tls_cert.empty() && absl::StrContains(error, "Socket closed")) {
    return " (if the coordinator refuses this certificate, --tls_cert, as not signed by its "
           "--tls_client_ca, it closes the connection and its log says \"certificate verify "
           "failed\")";
  }
  return TlsMismatchHint(options, error);
}

std::string TlsMismatchHint(const ClientSecurityOptions& options, absl::string_view error) {
  if (options.tls_ca.empty()) return "";
  // OpenSSL's words, and BoringSSL's (pip's grpcio, and gRPC's own copy) in capitals.
  const std::string lower = absl::AsciiStrToLower(error);
  if (absl::StrContains(lower, "certificate verify failed") ||
      absl::StrContains(lower, "certificate_verify_failed")) {
    return " (the coordinator's certificate is not signed by the CA in --tls_ca: give the CA "
           "that signed it)";
  }
  if (absl::StrContains(lower, "is not in peer certificate") ||
      absl::StrContains(lower, "hostname verification")) {
    return " (the coordinator's certificate does not name the host dialled: give "
           "--tls_server_name with a name it has)";
  }
  // The answer to a peer that does not speak TLS at all.
  if (absl::StrContains(lower, "wrong version number") ||
      absl::StrContains(lower, "wrong_version_number")) {
    return " (this client speaks TLS: the coordinator there answers in plaintext, which it "
           "serves only on loopback; leave --tls_ca out to reach it)";
  }
  return "";
}

void AddToken(const ClientSecurityOptions& options, grpc::ClientContext* context) {
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
}

}  // namespace polytrain
