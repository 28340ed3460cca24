// Checks of the PEM files given to the TLS flags, made when a process starts: gRPC reads them
// only when it first needs them, and then says only "empty address list" (a client) or fails to
// listen (a server), naming no file.
#ifndef POLYTRAIN_COMMON_PEM_CHECK_H_
#define POLYTRAIN_COMMON_PEM_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// A PEM file as a flag gave it: the flag's name, the file's path and its contents.
struct PemFile {
  absl::string_view flag;
  absl::string_view path;
  absl::string_view pem;
};

// At least one certificate parses. With `check_validity`, the first (the one presented) is
// within its validity period now: an expired one would be refused by every peer.
absl::Status CheckCertificates(const PemFile& file, bool check_validity);

// What a certificate is presented for.
enum class CertificateUse { kTlsServer, kTlsClient };
// The first certificate may be used for `use`: its extended key usage, if it has one, names
// serverAuth (a coordinator's) or clientAuth (a worker's). Another is refused at start-up, not by
// every peer later with a bare "certificate verify failed".
absl::Status CheckCertificateUse(const PemFile& file, CertificateUse use);

// An unencrypted private key parses, and it is the key of `certificate`'s first certificate.
absl::Status CheckKeyOfCertificate(const PemFile& key, const PemFile& certificate);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_PEM_CHECK_H_
