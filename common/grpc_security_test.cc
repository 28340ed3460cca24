#include "common/grpc_security.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using ::testing::HasSubstr;

TEST(IsLoopbackAddressTest, OnlyLoopbackHosts) {
  for (const char* address : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:80", "[::1]:0",
                              "dns:///127.0.0.1:5", "ipv4:127.0.0.1:5", "unix:/tmp/s"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:1", "coordinator:50051", "128.0.0.1:1",
        "127.0.0.256:1", "127.0.0:1", "127.0.0.1.example.com:1", "localhost.evil.com:1", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

// A closed connection gets a hint of what may have closed it, by what this side sends.
TEST(ConnectionHintTest, NamesTheLikelyCauseOfAClosedConnection) {
  ClientSecurityOptions plaintext;
  EXPECT_THAT(ConnectionHint(plaintext, "Socket closed"), HasSubstr("give --tls_ca"));
  ClientSecurityOptions tls;
  tls.tls_ca = "ca pem";
  EXPECT_EQ(ConnectionHint(tls, "Socket closed"), "");
  EXPECT_THAT(ConnectionHint(tls, "SSL_ERROR_SSL: WRONG_VERSION_NUMBER"),
              HasSubstr("answers in plaintext"));
  // A client certificate of another CA: the coordinator ends the handshake on its side (probe CB:
  // the worker retried with nothing but "Socket closed").
  ClientSecurityOptions mutual = tls;
  mutual.tls_cert = "cert pem";
  EXPECT_THAT(ConnectionHint(mutual, "ipv4:127.0.0.1:1: Socket closed"),
              HasSubstr("not signed by its --tls_client_ca"));
  EXPECT_EQ(ConnectionHint(mutual, "failed to connect to all addresses"), "");
}

TEST(MakeServerCredentialsTest, PlaintextOnlyOnLoopbackAndOnlyWhenAsked) {
  ServerSecurityOptions options;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> none =
      MakeServerCredentials(options, "127.0.0.1:0");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("--plaintext on a loopback address"));

  options.plaintext = true;
  EXPECT_TRUE(MakeServerCredentials(options, "127.0.0.1:0").ok());
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> open =
      MakeServerCredentials(options, "0.0.0.0:50051");
  ASSERT_FALSE(open.ok());
  EXPECT_THAT(open.status().message(), HasSubstr("--plaintext: only on a loopback address"));

  options.tls_client_ca = "/etc/ca.pem";
  EXPECT_THAT(MakeServerCredentials(options, "127.0.0.1:0").status().message(),
              HasSubstr("cannot be combined"));
}

TEST(MakeServerCredentialsTest, TlsFilesNamedInErrors) {
  ServerSecurityOptions options;
  options.tls_cert = "/nonexistent/cert.pem";
  EXPECT_THAT(MakeServerCredentials(options, "0.0.0.0:1").status().message(),
              HasSubstr("--tls_key: needed with the other"));
  options.tls_key = "/nonexistent/key.pem";
  EXPECT_THAT(MakeServerCredentials(options, "0.0.0.0:1").status().message(),
              HasSubstr("--tls_cert /nonexistent/cert.pem: no such file"));
}

TEST(CheckTargetTest, AHostAndAPortInRange) {
  for (const char* good : {"127.0.0.1:1", "localhost:65535", "[::1]:50051", "dns:///host:443",
                           "ipv4:127.0.0.1:5", "unix:/tmp/socket"}) {
    EXPECT_TRUE(CheckTarget(good).ok()) << good;
  }
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:-5",
                          "127.0.0.1:1 junk", "", ":50051", "::1:50051", "host:+5",
                          "ipv6:[::1]:5,[fd00::2]:5", "ipv4:127.0.0.1:5,10.0.0.1:5"}) {
    EXPECT_EQ(CheckTarget(bad).message(),
              std::string("--coordinator: expected HOST:PORT with a port in [1, 65535] (e.g. "
                          "127.0.0.1:50051, [::1]:50051), got '") +
                  bad + "'")
        << bad;
  }
}

TEST(MakeChannelTest, PlaintextOnlyToLoopback) {
  unsetenv("POLYTRAIN_TOKEN");
  ClientSecurityOptions options;
  EXPECT_TRUE(MakeChannel("127.0.0.1:50051", &options).ok());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> remote =
      MakeChannel("coordinator.example:50051", &options);
  ASSERT_FALSE(remote.ok());
  EXPECT_THAT(remote.status().message(), HasSubstr("--tls_ca: needed to reach"));
  ClientSecurityOptions named;  // a server name means TLS: not plaintext without a word
  named.tls_server_name = "localhost";
  EXPECT_EQ(MakeChannel("127.0.0.1:1", &named).status().message(),
            "--tls_ca: needed with --tls_server_name");

  options.tls_cert = "/nonexistent/c.pem";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", &options).status().message(),
              HasSubstr("--tls_key: needed with the other"));
  options.tls_key = "/nonexistent/k.pem";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", &options).status().message(),
              HasSubstr("--tls_ca: needed with --tls_cert"));
  options.tls_ca = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", &options).status().message(),
              HasSubstr("--tls_ca /nonexistent/ca.pem: no such file"));
}

TEST(MakeChannelTest, TokenFromFileOrEnvironment) {
  const std::string path = ::testing::TempDir() + "/token";
  std::ofstream(path) << "  file-token-0123456789\n";
  ClientSecurityOptions from_file;
  from_file.token_file = path;
  setenv("POLYTRAIN_TOKEN", "env-token-0123456789", 1);
  ASSERT_TRUE(MakeChannel("127.0.0.1:1", &from_file).ok());
  EXPECT_EQ(from_file.token, "file-token-0123456789");  // the file wins, whitespace trimmed

  ClientSecurityOptions from_env;
  ASSERT_TRUE(MakeChannel("127.0.0.1:1", &from_env).ok());
  EXPECT_EQ(from_env.token, "env-token-0123456789");
  unsetenv("POLYTRAIN_TOKEN");

  // Blanks only: no token, said before any call rather than by the coordinator after it.
  std::ofstream(path) << " \t\n";
  ClientSecurityOptions blank;
  blank.token_file = path;
  EXPECT_EQ(MakeChannel("127.0.0.1:1", &blank).status().message(),
            "--token_file " + path + ": only whitespace, no token");
  setenv("POLYTRAIN_TOKEN", "  ", 1);
  ClientSecurityOptions blank_env;
  EXPECT_EQ(MakeChannel("127.0.0.1:1", &blank_env).status().message(),
            "$POLYTRAIN_TOKEN: only whitespace, no token (unset it to send none)");
  setenv("POLYTRAIN_TOKEN", "", 1);  // empty: none, as unset
  ClientSecurityOptions empty_env;
  ASSERT_TRUE(MakeChannel("127.0.0.1:1", &empty_env).ok());
  EXPECT_EQ(empty_env.token, "");
  unsetenv("POLYTRAIN_TOKEN");

  std::ofstream(path) << "two\nlines\n";
  ClientSecurityOptions two_lines;
  two_lines.token_file = path;
  EXPECT_EQ(MakeChannel("127.0.0.1:1", &two_lines).status().message(),
            "--token_file " + path +
                ": a token is one line of printable ASCII characters without spaces, got a byte "
                "0x0a");
  // Bytes gRPC would abort on in a header are refused before a call (here from the environment).
  for (const auto& [token, byte] :
       std::vector<std::pair<std::string, std::string>>{{"token-with-\x01-control", "0x01"},
                                                        {"token-with-utf8-\xc3\xa9", "0xc3"},
                                                        {"token-with-\x7f-del", "0x7f"},
                                                        {"token with-a-space", "0x20"}}) {
    setenv("POLYTRAIN_TOKEN", token.c_str(), 1);
    ClientSecurityOptions odd;
    EXPECT_EQ(MakeChannel("127.0.0.1:1", &odd).status().message(),
              "$POLYTRAIN_TOKEN: a token is one line of printable ASCII characters without "
              "spaces, got a byte " +
                  byte);
  }
  // A token of another length (a certificate given by mistake, a megabyte of junk) is named, not
  // sent: the coordinator would refuse it, or gRPC would with a bare "metadata size exceeds limit".
  for (size_t length : {kMinTokenLength - 1, kMaxTokenLength + 1, (size_t{1} << 20) - 1}) {
    std::ofstream(path) << std::string(length, 'a') << "\n";
    ClientSecurityOptions odd;
    odd.token_file = path;
    EXPECT_EQ(
        MakeChannel("127.0.0.1:1", &odd).status().message(),
        absl::StrCat("--token_file ", path, ": a token has 16 to 4096 characters, got ", length));
  }
  for (size_t length : {kMinTokenLength, kMaxTokenLength}) {
    std::ofstream(path) << std::string(length, 'a') << "\n";
    ClientSecurityOptions edge;
    edge.token_file = path;
    EXPECT_TRUE(MakeChannel("127.0.0.1:1", &edge).ok()) << length;
  }
  unsetenv("POLYTRAIN_TOKEN");
  ClientSecurityOptions missing;
  missing.token_file = "/nonexistent/token";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", &missing).status().message(),
              HasSubstr("--token_file /nonexistent/token: no such file"));
}

}  // namespace
}  // namespace polytrain
