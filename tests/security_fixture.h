// The fixture of the security tests (security_test.cc: TLS and tokens; security_setup_test.cc:
// the coordinator's refusals of unsafe set-ups): certificates made by openssl once per run, a
// real polytrain-coordinator serving TLS on loopback with a tokens file, and the clients that
// talk to it.
#ifndef POLYTRAIN_TESTS_SECURITY_FIXTURE_H_
#define POLYTRAIN_TESTS_SECURITY_FIXTURE_H_

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "testing/http_get.h"
#include "testing/process.h"
#include "testing/wait_for.h"

namespace polytrain {
namespace security_test {

namespace fs = std::filesystem;
using polytrain::testing::Process;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

inline constexpr char kAliceToken[] = "alice-client-token-4f1c2a9e";
inline constexpr char kBobToken[] = "bob-client-token-77d0e5b3c1";
inline constexpr char kWorkerToken[] = "pool-worker-token-a8b2c4d6e8";
inline constexpr char kAdminToken[] = "ops-admin-token-0b9d8c7e6f5a";

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a shell command; true when it exits 0.
inline bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }

class SecurityTest : public ::testing::Test {
 protected:
  // One CA signs the server's and the worker's certificates; a second, unrelated CA signs an
  // impostor's. EC keys keep generation quick.
  static void SetUpTestSuite() {
    pki_ = new fs::path(fs::path(::testing::TempDir()) /
                        ("security_test_pki_" + std::to_string(getpid())));
    fs::remove_all(*pki_);
    fs::create_directories(*pki_);
    const std::string d = pki_->string();
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string script = "set -e; cd '" + d + "'; exec >openssl.log 2>&1\n";
    for (const char* ca : {"ca", "other-ca"}) {
      script += "openssl req -x509 " + key + " -keyout " + ca + ".key -out " + ca +
                ".pem -days 2 -subj /CN=" + ca + "\n";
    }
    struct Leaf {
      const char* name;
      const char* ca;
      const char* san;
    };
    for (const Leaf& leaf :
         {Leaf{"server", "ca", "DNS:localhost,IP:127.0.0.1"}, Leaf{"worker", "ca", "DNS:worker-1"},
          Leaf{"impostor", "other-ca", "DNS:worker-2"}}) {
      const std::string n = leaf.name;
      script += "openssl req " + key + " -keyout " + n + ".key -out " + n + ".csr -subj /CN=" + n +
                "\n" + "printf 'subjectAltName=" + leaf.san + "' > " + n + ".ext\n" +
                "openssl x509 -req -in " + n + ".csr -CA " + leaf.ca + ".pem -CAkey " + leaf.ca +
                ".key -CAcreateserial -days 2 -out " + n + ".pem -extfile " + n + ".ext\n";
    }
    // A server certificate that expired in 2020 (openssl ca sets the dates).
    script += "openssl req " + key + " -keyout expired.key -out expired.csr -subj /CN=expired\n" +
              "touch index.txt; echo 01 > serial\n" +
              "printf '[ca]\\ndefault_ca = d\\n[d]\\ndatabase = index.txt\\nserial = "
              "serial\\nnew_certs_dir = .\\ndefault_md = sha256\\npolicy = p\\n[p]\\ncommonName = "
              "supplied\\n' > ca.cnf\n" +
              "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr "
              "-out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -notext\n";
    ASSERT_TRUE(Shell("bash -c \"" + script + "\"")) << ReadFile(*pki_ / "openssl.log");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*pki_);
    delete pki_;
  }

  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("security_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream tokens(dir_ / "tokens.txt");
    tokens << "# role name hash\n";
    for (const auto& [role, name, token] :
         {std::tuple{"client", "alice", kAliceToken}, std::tuple{"client", "bob", kBobToken},
          std::tuple{"worker", "pool", kWorkerToken}, std::tuple{"admin", "ops", kAdminToken}}) {
      tokens << role << " " << name << " " << Hash(token) << "\n";
    }
  }
  void TearDown() override {
    workers_.clear();
    coordinator_.reset();
    fs::remove_all(dir_);
  }

  static std::string Pki(const std::string& file) { return (*pki_ / file).string(); }

  // The tokens file form of `token`, through the coordinator's own --hash_token.
  std::string Hash(const std::string& token) {
    const fs::path in = dir_ / "token.in", out = dir_ / "token.hash";
    std::ofstream(in) << token << "\n";
    EXPECT_TRUE(Shell(std::string(POLYTRAIN_COORDINATOR_BINARY) + " --hash_token < '" +
                      in.string() + "' > '" + out.string() + "'"));
    std::string hash;
    std::ifstream(out) >> hash;
    return hash;
  }

  // A TLS coordinator on loopback that verifies worker certificates against the CA.
  void StartCoordinator(const std::vector<std::string>& extra_flags = {}) {
    const fs::path port_file = dir_ / "port", metrics_port_file = dir_ / "metrics_port";
    std::vector<std::string> flags{"--listen",
                                   "127.0.0.1:0",
                                   "--tls_cert",
                                   Pki("server.pem"),
                                   "--tls_key",
                                   Pki("server.key"),
                                   "--tls_client_ca",
                                   Pki("ca.pem"),
                                   "--tokens",
                                   (dir_ / "tokens.txt").string(),
                                   "--db",
                                   (dir_ / "jobs.db").string(),
                                   "--port_file",
                                   port_file.string(),
                                   "--metrics_listen",
                                   "127.0.0.1:0",
                                   "--metrics_port_file",
                                   metrics_port_file.string(),
                                   "--artifacts",
                                   (dir_ / "artifacts").string()};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    coordinator_ = std::make_unique<Process>(POLYTRAIN_COORDINATOR_BINARY, flags,
                                             (dir_ / "coordinator.log").string());
    ASSERT_TRUE(coordinator_->started());
    ASSERT_TRUE(WaitFor(
        [&] { return static_cast<bool>(std::ifstream(port_file) >> port_) && port_ > 0; }, 20))
        << ReadFile(dir_ / "coordinator.log");
    ASSERT_TRUE(WaitFor(
        [&] { return static_cast<bool>(std::ifstream(metrics_port_file) >> metrics_port_); }, 20));
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The value of one series line of the coordinator's /metrics, or -1 when absent.
  double ScrapeValue(const std::string& series) const {
    return testing::SeriesValue(testing::HttpGet(metrics_port_, "/metrics"), series);
  }

  // A channel that trusts `ca`, optionally presenting a client certificate.
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& ca = "ca",
                                            const std::string& client_cert = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(Pki(ca + ".pem"));
    if (!client_cert.empty()) {
      ssl.pem_cert_chain = ReadFile(Pki(client_cert + ".pem"));
      ssl.pem_private_key = ReadFile(Pki(client_cert + ".key"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(Address(), grpc::SslCredentials(ssl), args);
  }

  static void Authorize(grpc::ClientContext* context, const std::string& token) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }

  static v1::JobSpec Spec(const std::string& name) {
    v1::JobSpec spec;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(model { mlp { hidden: [16] } }
           dataset { synthetic { classes: 3 features: 8 train_samples: 300 test_samples: 90
                                 separation: 3 seed: 1 } }
           loss { poly1 { epsilon: 1 } }
           optimizer { sgd {} learning_rate: 0.1 }
           batch_size: 30 epochs: 1)",
        &spec));
    spec.set_name(name);
    return spec;
  }

  grpc::Status Submit(v1::Coordinator::Stub& stub, const std::string& token, Job* job) {
    grpc::ClientContext context;
    Authorize(&context, token);
    v1::SubmitJobRequest request;
    *request.mutable_spec() = Spec("secure");
    return stub.SubmitJob(&context, request, job);
  }

  grpc::Status Get(v1::Coordinator::Stub& stub, const std::string& token, const std::string& id,
                   Job* job) {
    grpc::ClientContext context;
    Authorize(&context, token);
    v1::GetJobRequest request;
    request.set_id(id);
    return stub.GetJob(&context, request, job);
  }

  // How a worker stream opened with `token` over `channel` ends when it says hello.
  grpc::Status ConnectWorker(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& token) {
    auto stub = v1::WorkerService::NewStub(channel);
    grpc::ClientContext context;
    Authorize(&context, token);
    auto stream = stub->Connect(&context);
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_name("probe");
    stream->Write(hello);
    v1::CoordinatorMessage reply;
    if (stream->Read(&reply)) {  // welcomed: it got in
      context.TryCancel();
      return grpc::Status::OK;
    }
    return stream->Finish();
  }

  // Runs polyctl with `args` (and $POLYTRAIN_TOKEN unset); returns its exit code, output in *out.
  int Polyctl(std::vector<std::string> args, std::string* out) {
    unsetenv("POLYTRAIN_TOKEN");
    const fs::path output = dir_ / "polyctl.out";
    Process polyctl(POLYCTL_BINARY, args, output.string());
    const int code = polyctl.Wait();
    *out = ReadFile(output);
    return code;
  }

  inline static fs::path* pki_ = nullptr;
  fs::path dir_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::vector<std::unique_ptr<Process>> workers_;
};

}  // namespace security_test
}  // namespace polytrain

#endif  // POLYTRAIN_TESTS_SECURITY_FIXTURE_H_
