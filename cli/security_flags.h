// The TLS and token flags of the tools (common/grpc_security.h says what they do).
#ifndef POLYTRAIN_CLI_SECURITY_FLAGS_H_
#define POLYTRAIN_CLI_SECURITY_FLAGS_H_

#include "CLI/CLI.hpp"
#include "common/grpc_security.h"

namespace polytrain {

// Adds --tls_cert, --tls_key, --tls_client_ca and --plaintext.
void AddServerSecurityFlags(CLI::App& app, ServerSecurityOptions* options);

// Adds --tls_ca, --tls_cert, --tls_key, --tls_server_name and --token_file.
void AddClientSecurityFlags(CLI::App& app, ClientSecurityOptions* options);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_SECURITY_FLAGS_H_
