#include "common/pem_check.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace polytrain {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(absl::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of `pem`, or null.
Certificate FirstCertificate(absl::string_view pem) {
  Bio bio = MemoryBio(pem);
  Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();  // OpenSSL's queue is per thread; gRPC reads it too
  return cert;
}

// "Jan  1 00:00:00 2026 GMT"
std::string TimeText(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

std::string Named(const PemFile& file) { return absl::StrCat(file.flag, " ", file.path); }

}  // namespace

absl::Status CheckCertificates(const PemFile& file, bool check_validity) {
  Certificate cert = FirstCertificate(file.pem);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named(file), ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)"));
  }
  if (check_validity) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(Named(file), ": the certificate expired on ",
                                                     TimeText(X509_get0_notAfter(cert.get()))));
    }
    if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(Named(file),
                                                     ": the certificate is not valid before ",
                                                     TimeText(X509_get0_notBefore(cert.get()))));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCertificateUse(const PemFile& file, CertificateUse use) {
  Certificate cert = FirstCertificate(file.pem);
  if (cert == nullptr) return CheckCertificates(file, /*check_validity=*/false);
  const bool server = use == CertificateUse::kTlsServer;
  const int fits = X509_check_purpose(
      cert.get(), server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT, /*ca=*/0);
  ERR_clear_error();
  if (fits == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Named(file), ": the certificate is not for a TLS ", server ? "server" : "client",
                   " (its extended key usage lacks ", server ? "serverAuth" : "clientAuth",
                   "): every peer would refuse it"));
}

absl::Status CheckKeyOfCertificate(const PemFile& key, const PemFile& certificate) {
  Bio bio = MemoryBio(key.pem);
  // No passphrase callback: an encrypted key fails here rather than prompting on a terminal.
  PrivateKey parsed(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  if (parsed == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named(key),
        ": no unencrypted PEM private key in it (expected -----BEGIN PRIVATE KEY-----)"));
  }
  Certificate cert = FirstCertificate(certificate.pem);
  if (cert == nullptr) return CheckCertificates(certificate, /*check_validity=*/false);
  const int matches = X509_check_private_key(cert.get(), parsed.get());
  ERR_clear_error();
  if (matches != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named(key), ": not the key of the certificate in ", Named(certificate)));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
