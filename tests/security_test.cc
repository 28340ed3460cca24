// TLS, mutual TLS and bearer tokens end to end: certificates made by openssl for each run, a real
// polytrain-coordinator serving TLS on loopback with a tokens file, real polytrain-worker and
// polyctl processes, and gRPC clients holding each kind of token (or none).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "testing/http_get.h"
#include "testing/process.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::testing::Process;
using polytrain::v1::Job;

constexpr char kAliceToken[] = "alice-client-token-4f1c2a9e";
constexpr char kBobToken[] = "bob-client-token-77d0e5b3c1";
constexpr char kWorkerToken[] = "pool-worker-token-a8b2c4d6e8";
constexpr char kAdminToken[] = "ops-admin-token-0b9d8c7e6f5a";

bool WaitFor(const std::function<bool()>& done, double seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a shell command; true when it exits 0.
bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }

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

  static fs::path* pki_;
  fs::path dir_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::vector<std::unique_ptr<Process>> workers_;
};

fs::path* SecurityTest::pki_ = nullptr;

TEST_F(SecurityTest, OnlyTlsClientsThatTrustTheRightCaGetThrough) {
  StartCoordinator({"--log_format", "json"});
  Job job;
  EXPECT_TRUE(Submit(*v1::Coordinator::NewStub(TlsChannel()), kAdminToken, &job).ok());

  auto plaintext = grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(Submit(*v1::Coordinator::NewStub(plaintext), kAdminToken, &job).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A client that trusts another CA refuses the server's certificate.
  EXPECT_EQ(
      Submit(*v1::Coordinator::NewStub(TlsChannel("other-ca")), kAdminToken, &job).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // The failed handshakes are logged as the rest: one JSON object per line (gRPC's own lines
  // went to stderr raw).
  coordinator_.reset();
  std::istringstream log(ReadFile(dir_ / "coordinator.log"));
  int grpc_lines = 0;
  for (std::string line; std::getline(log, line);) {
    EXPECT_TRUE(!line.empty() && line.front() == '{' && line.back() == '}') << line;
    grpc_lines += line.find("\"grpc: ") != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(grpc_lines, 0) << ReadFile(dir_ / "coordinator.log");
}

TEST_F(SecurityTest, TokensDecideWhoMayDoWhat) {
  StartCoordinator();
  auto stub = v1::Coordinator::NewStub(TlsChannel());
  Job job;
  grpc::Status status = Submit(*stub, "", &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("no token"), std::string::npos) << status.error_message();
  EXPECT_EQ(Submit(*stub, "not-a-known-token-123456", &job).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  status = Submit(*stub, kWorkerToken, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("worker token may only speak the worker protocol"),
            std::string::npos);

  Job alices;
  ASSERT_TRUE(Submit(*stub, kAliceToken, &alices).ok());
  EXPECT_EQ(alices.owner(), "alice");
  Job seen;
  EXPECT_TRUE(Get(*stub, kAliceToken, alices.id(), &seen).ok());
  EXPECT_TRUE(Get(*stub, kAdminToken, alices.id(), &seen).ok());
  status = Get(*stub, kBobToken, alices.id(), &seen);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "id: job " + alices.id() + " belongs to another user");
  {
    grpc::ClientContext context;
    Authorize(&context, kBobToken);
    v1::CancelJobRequest cancel;
    cancel.set_id(alices.id());
    EXPECT_EQ(stub->CancelJob(&context, cancel, &seen).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    Authorize(&context, kBobToken);
    v1::WatchJobRequest watch;
    watch.set_id(alices.id());
    auto reader = stub->WatchJob(&context, watch);
    v1::JobEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    Authorize(&context, kBobToken);
    v1::ListJobsResponse listed;
    ASSERT_TRUE(stub->ListJobs(&context, v1::ListJobsRequest(), &listed).ok());
    EXPECT_EQ(listed.jobs_size(), 0);  // Bob's listing holds none of Alice's jobs
  }
  Get(*stub, kAdminToken, alices.id(), &seen);
  EXPECT_EQ(seen.state(), v1::JOB_STATE_QUEUED);  // Bob's cancel changed nothing
}

TEST_F(SecurityTest, TheWorkerProtocolNeedsAWorkerTokenAndACertificateFromTheCa) {
  StartCoordinator();
  const grpc::Status client_token = ConnectWorker(TlsChannel("ca", "worker"), kAliceToken);
  EXPECT_EQ(client_token.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << client_token.error_message();
  const grpc::Status no_certificate = ConnectWorker(TlsChannel(), kWorkerToken);
  EXPECT_EQ(no_certificate.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << no_certificate.error_message();
  // A certificate from an unknown CA fails the handshake itself.
  EXPECT_EQ(ConnectWorker(TlsChannel("ca", "impostor"), kWorkerToken).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ConnectWorker(TlsChannel("ca", "worker"), kWorkerToken).ok());
  EXPECT_TRUE(ConnectWorker(TlsChannel("ca", "worker"), kAdminToken).ok());

  // A real worker with its certificate and token trains Alice's job over mutual TLS.
  std::ofstream(dir_ / "worker.token") << kWorkerToken << "\n";
  workers_.push_back(std::make_unique<Process>(
      POLYTRAIN_WORKER_BINARY,
      std::vector<std::string>{"--coordinator", Address(), "--name", "secure-worker", "--tls_ca",
                               Pki("ca.pem"), "--tls_server_name", "localhost", "--tls_cert",
                               Pki("worker.pem"), "--tls_key", Pki("worker.key"), "--token_file",
                               (dir_ / "worker.token").string()},
      (dir_ / "worker.log").string()));
  auto stub = v1::Coordinator::NewStub(TlsChannel());
  Job job;
  ASSERT_TRUE(Submit(*stub, kAliceToken, &job).ok());
  ASSERT_TRUE(WaitFor([&] {
    Job now;
    return Get(*stub, kAliceToken, job.id(), &now).ok() && now.state() == v1::JOB_STATE_SUCCEEDED;
  })) << ReadFile(dir_ / "worker.log");
  Get(*stub, kAliceToken, job.id(), &job);
  EXPECT_EQ(job.worker(), "secure-worker");
  EXPECT_GT(job.final_metrics().at("eval_accuracy"), 0.5);

  // A worker dialling plaintext is told why it cannot connect.
  workers_.push_back(std::make_unique<Process>(
      POLYTRAIN_WORKER_BINARY,
      std::vector<std::string>{"--coordinator", Address(), "--name", "plaintext-worker"},
      (dir_ / "plaintext-worker.log").string()));
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(dir_ / "plaintext-worker.log")
               .find("cannot connect to the coordinator at " + Address()) != std::string::npos;
  }));
  EXPECT_NE(
      ReadFile(dir_ / "plaintext-worker.log").find("if the coordinator serves TLS, give --tls_ca"),
      std::string::npos)
      << ReadFile(dir_ / "plaintext-worker.log");
}

TEST_F(SecurityTest, HashTokenReadsATokenFileAsTheClientsDo) {
  const std::string hash = Hash(kAliceToken);  // "TOKEN\n"
  const fs::path out = dir_ / "crlf.hash";
  ASSERT_TRUE(Shell("printf '%s\\r\\n' '" + std::string(kAliceToken) + "' | " +
                    POLYTRAIN_COORDINATOR_BINARY + " --hash_token > '" + out.string() + "'"));
  std::string crlf;
  std::ifstream(out) >> crlf;
  EXPECT_EQ(crlf, hash);  // a CRLF line is the same token, as polyctl reads it
  EXPECT_FALSE(Shell("printf 'first-token-0123456789\\nsecond-token-0123456789\\n' | " +
                     std::string(POLYTRAIN_COORDINATOR_BINARY) + " --hash_token 2>/dev/null"));
  // A token of another shape is refused with how to make one.
  const fs::path short_error = dir_ / "short.err";
  EXPECT_FALSE(Shell("echo short-token | " + std::string(POLYTRAIN_COORDINATOR_BINARY) +
                     " --hash_token 2>'" + short_error.string() + "'"));
  EXPECT_EQ(ReadFile(short_error),
            "polytrain-coordinator: --hash_token: a token has 16 to 4096 characters, got 11 (make "
            "one with e.g. openssl rand -hex 32)\n");
  // Endless input is refused after a few KiB, not read until memory runs out.
  EXPECT_FALSE(
      Shell(std::string(POLYTRAIN_COORDINATOR_BINARY) + " --hash_token < /dev/zero 2>/dev/null"));
}

TEST_F(SecurityTest, TokensNeverReachLogsOrMetrics) {
  StartCoordinator();
  auto stub = v1::Coordinator::NewStub(TlsChannel());
  Job job;
  ASSERT_TRUE(Submit(*stub, kAliceToken, &job).ok());
  Submit(*stub, kBobToken + std::string("-wrong"), &job);
  Submit(*stub, kWorkerToken, &job);
  const std::string metrics = testing::HttpGet(metrics_port_, "/metrics");
  ASSERT_NE(metrics.find("polytrain_rpc"), std::string::npos);
  coordinator_->Kill(SIGTERM);
  const std::string log = ReadFile(dir_ / "coordinator.log");
  ASSERT_NE(log.find("4 tokens"), std::string::npos) << log;
  // The refused calls are logged with their peer and why, and still without the token.
  EXPECT_NE(log.find("refused a call from ipv4:127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("UNAUTHENTICATED: unknown token"), std::string::npos) << log;
  EXPECT_NE(log.find("PERMISSION_DENIED: token of worker"), std::string::npos) << log;
  for (const char* token : {kAliceToken, kBobToken, kWorkerToken, kAdminToken}) {
    EXPECT_EQ(log.find(token), std::string::npos) << token;
    EXPECT_EQ(metrics.find(token), std::string::npos) << token;
  }
  const std::string tokens_file = ReadFile(dir_ / "tokens.txt");
  for (const char* token : {kAliceToken, kBobToken, kWorkerToken, kAdminToken}) {
    EXPECT_EQ(tokens_file.find(token), std::string::npos) << "stored in the clear: " << token;
  }
}

TEST_F(SecurityTest, PolyctlSpeaksTlsWithAToken) {
  StartCoordinator();
  std::ofstream(dir_ / "alice.token") << kAliceToken << "\n";
  const std::vector<std::string> tls = {"--coordinator", Address(),           "--tls_ca",
                                        Pki("ca.pem"),   "--tls_server_name", "localhost"};
  std::string out;
  std::vector<std::string> args = tls;
  args.insert(args.begin(), "list");
  EXPECT_EQ(Polyctl(args, &out), 8) << out;  // no token
  EXPECT_NE(out.find("no token"), std::string::npos) << out;

  args.insert(args.end(), {"--token_file", (dir_ / "alice.token").string()});
  EXPECT_EQ(Polyctl(args, &out), 0) << out;

  // Plaintext to a TLS port, and plaintext to another host, are refused.
  EXPECT_EQ(Polyctl({"list", "--coordinator", Address()}, &out), 3) << out;
  EXPECT_NE(out.find("if the coordinator serves TLS, give --tls_ca"), std::string::npos) << out;
  EXPECT_EQ(Polyctl({"list", "--coordinator", "coordinator.example:50051"}, &out), 1) << out;
  EXPECT_NE(out.find("--tls_ca: needed to reach coordinator.example:50051"), std::string::npos)
      << out;
  // TLS to a plaintext coordinator: the hint, and no raw gRPC log line besides the message.
  const fs::path plain_port = dir_ / "plain-port";
  Process plaintext(POLYTRAIN_COORDINATOR_BINARY,
                    {"--listen", "127.0.0.1:0", "--plaintext", "--port_file", plain_port.string(),
                     "--db", (dir_ / "plain.db").string(), "--artifacts",
                     (dir_ / "plain-artifacts").string(), "--metrics_listen", ""},
                    (dir_ / "plain.log").string());
  int port = 0;
  ASSERT_TRUE(WaitFor([&] { return static_cast<bool>(std::ifstream(plain_port) >> port); }, 20));
  EXPECT_EQ(Polyctl({"list", "--coordinator", "127.0.0.1:" + std::to_string(port), "--tls_ca",
                     Pki("ca.pem")},
                    &out),
            3)
      << out;
  EXPECT_NE(out.find("(this client speaks TLS: the coordinator there answers in plaintext"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("ssl_transport_security"), std::string::npos) << out;
}

TEST_F(SecurityTest, OneCoordinatorPerDatabaseAndArtifactsDirectoryWithNoLockLeftByAKill) {
  StartCoordinator();
  const std::string db = (dir_ / "jobs.db").string();
  const std::string artifacts = (dir_ / "artifacts").string();
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  // The same database by another path: the lock is the file's own, not its name's.
  const std::string symlink = (dir_ / "jobs-link.db").string();
  const std::string hardlink = (dir_ / "jobs-hard.db").string();
  fs::create_symlink(db, symlink);
  fs::create_hard_link(db, hardlink);
  const std::string held = ": another coordinator (process " + std::to_string(coordinator_->pid()) +
                           ") is using it; one coordinator per database and artifacts directory";
  for (const Case& c : std::vector<Case>{
           {{"--db", db, "--artifacts", (dir_ / "other-artifacts").string()}, "--db " + db + held},
           {{"--db", symlink, "--artifacts", (dir_ / "other-artifacts").string()},
            "--db " + symlink + held},
           {{"--db", hardlink, "--artifacts", (dir_ / "other-artifacts").string()},
            "--db " + hardlink + held},
           {{"--db", (dir_ / "other.db").string(), "--artifacts", artifacts},
            "--artifacts " + artifacts + held},
       }) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--listen", "127.0.0.1:0", "--plaintext", "--metrics_listen", ""});
    const fs::path log = dir_ / "second.log";
    Process second(POLYTRAIN_COORDINATOR_BINARY, args, log.string());
    EXPECT_EQ(second.Wait(), 1) << c.error;
    EXPECT_NE(ReadFile(log).find(c.error), std::string::npos) << ReadFile(log);
  }
  EXPECT_FALSE(fs::exists(dir_ / "other.db"));         // refused before it was created
  EXPECT_FALSE(fs::exists(dir_ / "other-artifacts"));  // a busy database refuses first
  // Nor on its port with a store of its own: gRPC would share the port (SO_REUSEPORT) and split
  // clients and workers between two stores.
  {
    const std::string address = "127.0.0.1:" + std::to_string(port_);
    const fs::path log = dir_ / "same-port.log";
    Process second(POLYTRAIN_COORDINATOR_BINARY,
                   {"--listen", address, "--plaintext", "--db", (dir_ / "port.db").string(),
                    "--artifacts", (dir_ / "port-artifacts").string(), "--metrics_listen", ""},
                   log.string());
    EXPECT_EQ(second.Wait(), 1);
    EXPECT_NE(ReadFile(log).find("--listen " + address + ": cannot listen there"),
              std::string::npos)
        << ReadFile(log);
  }
  // A coordinator killed outright takes its locks with it: the next one starts on both.
  coordinator_->Kill(SIGKILL);
  fs::remove(dir_ / "port");
  fs::remove(dir_ / "metrics_port");
  StartCoordinator();  // fails the test unless it serves (writes its port)
}

TEST_F(SecurityTest, TheCoordinatorRefusesUnsafeOrBrokenSetups) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::string tokens = (dir_ / "tokens.txt").string();
  std::ofstream(dir_ / "bad-tokens.txt") << "client alice " << kAliceToken << "\n";
  // Another program's SQLite file (Python's sqlite3 module makes it; no sqlite3 tool needed).
  const fs::path foreign = dir_ / "foreign.db";
  const fs::path inspect = dir_ / "inspect.py";
  std::ofstream(inspect)
      << "import sqlite3, sys\n"
         "db = sqlite3.connect(sys.argv[1])\n"
         "if sys.argv[2] == 'make':\n"
         "    db.execute('CREATE TABLE notes (text TEXT)'); db.commit()\n"
         "else:\n"
         "    mode = db.execute('PRAGMA journal_mode').fetchone()[0]\n"
         "    names = [r[0] for r in db.execute('SELECT name FROM sqlite_master')]\n"
         "    sys.exit(0 if (mode, names) == ('delete', ['notes']) else 1)\n";
  ASSERT_TRUE(Shell("python3 '" + inspect.string() + "' '" + foreign.string() + "' make"));
  // A port someone else holds, for /metrics.
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken_address = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  for (const Case& c : std::vector<Case>{
           // Certificates and keys are read and checked before anything starts.
           {{"--listen", "127.0.0.1:0", "--tls_cert", garbage, "--tls_key", Pki("server.key")},
            "--tls_cert " + garbage + ": no PEM certificate in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key",
             Pki("worker.key")},
            "--tls_key " + Pki("worker.key") + ": not the key of the certificate in --tls_cert " +
                Pki("server.pem")},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key", garbage},
            "--tls_key " + garbage + ": no unencrypted PEM private key in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("expired.pem"), "--tls_key",
             Pki("expired.key")},
            "--tls_cert " + Pki("expired.pem") +
                ": the certificate expired on Jan  2 00:00:00 2020"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key",
             Pki("server.key"), "--tls_client_ca", garbage},
            "--tls_client_ca " + garbage + ": no PEM certificate in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", dir_.string(), "--tls_key",
             Pki("server.key")},
            "--tls_cert " + dir_.string() + ": is a directory"},
           // The store: another program's database is not touched, nor a memory one taken.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--db", foreign.string(), "--artifacts",
             (dir_ / "refused-artifacts").string()},
            "--db " + foreign.string() + ": not a PolyTrain database (it has other tables: notes)"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--db", ":memory:"},
            "--db: must name a file (jobs must outlive the process), got ':memory:'"},
           // A directory nobody may create files in, root included (sysfs).
           {{"--listen", "127.0.0.1:0", "--plaintext", "--artifacts", "/sys/kernel"},
            fs::is_directory("/sys/kernel") ? "--artifacts /sys/kernel: cannot write there: "
                                            : "--artifacts /sys/kernel: "},
           {{"--listen", "127.0.0.1:0"}, "--tls_cert/--tls_key: give a certificate and key"},
           {{"--listen", "0.0.0.0:0", "--plaintext"}, "--plaintext: only on a loopback address"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem")},
            "--tls_key: needed with the other"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("missing.pem"), "--tls_key",
             Pki("server.key")},
            "--tls_cert " + Pki("missing.pem") + ": no such file"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--tokens",
             (dir_ / "bad-tokens.txt").string()},
            "bad-tokens.txt:1: the third field must be sha256:"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--tokens", tokens + ".missing"},
            "--tokens " + tokens + ".missing: no such file"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--metrics_listen", taken_address},
            "--metrics_listen " + taken_address + ": cannot listen there: the port is in use"},
           {{"--listen", taken_address, "--plaintext"},
            "--listen " + taken_address +
                ": cannot listen there (the port is in use, or the address is not this "
                "machine's)"},
           // A typo must not make a tree of directories: only the last one is made.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--artifacts",
             (dir_ / "no" / "such" / "artifacts").string()},
            "--artifacts " + (dir_ / "no" / "such" / "artifacts").string() + ": no directory " +
                (dir_ / "no" / "such").string() + " to make it in"},
           // A script waiting for the port file would wait forever.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--port_file",
             (dir_ / "nodir" / "port").string()},
            "--port_file " + (dir_ / "nodir" / "port").string() +
                ": cannot write: No such file or directory"},
           {{"--listen", "127.0.0.1:99999", "--plaintext"},
            "--listen: expected HOST:PORT with a port in [0, 65535] (0 picks a free one), got "
            "'127.0.0.1:99999'"},
           {{"--listen", "127.0.0.1", "--plaintext"},
            "--listen: expected HOST:PORT with a port in [0, 65535] (0 picks a free one), got "
            "'127.0.0.1'"},
       }) {
    std::vector<std::string> args = c.args;
    if (std::find(args.begin(), args.end(), "--db") == args.end()) {
      args.insert(args.end(), {"--db", (dir_ / "refused.db").string()});
    }
    if (std::find(args.begin(), args.end(), "--metrics_listen") == args.end()) {
      args.insert(args.end(), {"--metrics_listen", ""});
    }
    const fs::path log = dir_ / "refused.log";
    Process coordinator(POLYTRAIN_COORDINATOR_BINARY, args, log.string());
    EXPECT_EQ(coordinator.Wait(), 1) << c.error;
    const std::string output = ReadFile(log);
    EXPECT_NE(output.find(c.error), std::string::npos) << output;
    // One line: gRPC's own account of a refused port is not shown beside ours.
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
    EXPECT_EQ(output.find(kAliceToken), std::string::npos) << "echoed a secret: " << output;
  }
  close(taken);
  EXPECT_FALSE(fs::exists(dir_ / "refused.db"));         // refused before anything was written
  EXPECT_FALSE(fs::exists(dir_ / "refused-artifacts"));  // made, then removed with the refusal
  // The other program's database is as it was: not switched to WAL, nothing added.
  EXPECT_TRUE(Shell("python3 '" + inspect.string() + "' '" + foreign.string() + "' check"));
}

}  // namespace
}  // namespace polytrain
