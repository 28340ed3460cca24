#include "cli/security_flags.h"

#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "common/grpc_security.h"

namespace polytrain {

void AddServerSecurityFlags(CLI::App& app, ServerSecurityOptions* options) {
  app.add_option("--tls_cert", options->tls_cert, "TLS: PEM certificate chain of this server")
      ->check(NotEmpty());
  app.add_option("--tls_key", options->tls_key, "TLS: PEM private key of --tls_cert")
      ->check(NotEmpty());
  app.add_option("--tls_client_ca", options->tls_client_ca,
                 "mutual TLS: PEM CA that signs worker certificates; workers must then present "
                 "one")
      ->check(NotEmpty());
  app.add_flag("--plaintext", options->plaintext,
               "serve without TLS (only allowed on a loopback address such as 127.0.0.1)");
}

void AddClientSecurityFlags(CLI::App& app, ClientSecurityOptions* options) {
  app.add_option("--tls_ca", options->tls_ca,
                 "TLS: PEM CA that signed the coordinator's certificate (without it: plaintext, "
                 "loopback only)")
      ->check(NotEmpty());
  app.add_option("--tls_cert", options->tls_cert, "mutual TLS: PEM client certificate")
      ->check(NotEmpty());
  app.add_option("--tls_key", options->tls_key, "mutual TLS: PEM private key of --tls_cert")
      ->check(NotEmpty());
  app.add_option("--tls_server_name", options->tls_server_name,
                 "TLS: name expected in the coordinator's certificate (default: the host)")
      ->check(NotEmpty());
  app.add_option(
         "--token_file", options->token_file,
         absl::StrCat("file holding the bearer token: ", kMinTokenLength, "-", kMaxTokenLength,
                      " printable ASCII characters, no spaces (default: $POLYTRAIN_TOKEN)"))
      ->check(NotEmpty());
}

}  // namespace polytrain
