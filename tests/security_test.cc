// TLS, mutual TLS and bearer tokens end to end: certificates made by openssl for each run, a real
// polytrain-coordinator serving TLS on loopback with a tokens file, real polytrain-worker and
// polyctl processes, and gRPC clients holding each kind of token (or none).
#include <signal.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "testing/http_get.h"
#include "testing/process.h"
#include "tests/security_fixture.h"

namespace polytrain {
namespace security_test {
namespace {

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
  {
    grpc::ClientContext context;
    Authorize(&context, kBobToken);
    v1::DownloadCheckpointRequest download;
    download.set_id(alices.id());
    auto reader = stub->DownloadCheckpoint(&context, download);
    v1::CheckpointChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  Get(*stub, kAdminToken, alices.id(), &seen);
  EXPECT_EQ(seen.state(), v1::JOB_STATE_QUEUED);  // Bob's cancel changed nothing
  // Bob's requests for Alice's job (get, cancel, watch, download) are access control's refusals
  // as the worker token's was: counted, and logged with the peer, so a token trying other
  // users' ids shows.
  EXPECT_EQ(
      ScrapeValue("polytrain_auth_refusals_total{code=\"PERMISSION_DENIED\",protocol=\"client\"}"),
      5);
  coordinator_->Kill(SIGTERM);
  EXPECT_NE(ReadFile(dir_ / "coordinator.log").find("refused a call from ipv4:127.0.0.1:"),
            std::string::npos);
  EXPECT_NE(ReadFile(dir_ / "coordinator.log")
                .find("PERMISSION_DENIED: id: job " + alices.id() + " belongs to another user"),
            std::string::npos)
      << ReadFile(dir_ / "coordinator.log");
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
  // A worker token asking for a file with no session of its own: refused and counted with
  // access control's refusals (probe DF: logged only).
  const double refused_before =
      ScrapeValue("polytrain_auth_refusals_total{code=\"PERMISSION_DENIED\",protocol=\"worker\"}");
  {
    auto worker_stub = v1::WorkerService::NewStub(TlsChannel("ca", "worker"));
    grpc::ClientContext context;
    Authorize(&context, kWorkerToken);
    v1::DownloadArtifactRequest request;
    request.set_path("job-0123456789ab/ckpt-000000000010.pt");
    request.set_session_key(std::string(32, '0'));
    auto reader = worker_stub->DownloadArtifact(&context, request);
    v1::ArtifactChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(
      ScrapeValue("polytrain_auth_refusals_total{code=\"PERMISSION_DENIED\",protocol=\"worker\"}"),
      refused_before + 1);

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

  // A worker dialling plaintext is told why it cannot connect (and dials on: a closed
  // connection is also what a proxy gives while its coordinator is not up); one trusting another
  // CA ends (exit 8) once every handshake failed for 10 s, rather than dial on forever (probe DF).
  workers_.push_back(std::make_unique<Process>(
      POLYTRAIN_WORKER_BINARY,
      std::vector<std::string>{"--coordinator", Address(), "--name", "plaintext-worker"},
      (dir_ / "plaintext-worker.log").string()));
  workers_.push_back(std::make_unique<Process>(
      POLYTRAIN_WORKER_BINARY,
      std::vector<std::string>{"--coordinator", Address(), "--name", "other-ca-worker", "--tls_ca",
                               Pki("other-ca.pem"), "--tls_server_name", "localhost",
                               "--token_file", (dir_ / "worker.token").string()},
      (dir_ / "other-ca-worker.log").string()));
  EXPECT_TRUE(WaitFor([&] {
    return ReadFile(dir_ / "plaintext-worker.log")
               .find("cannot connect to the coordinator at " + Address()) != std::string::npos;
  }));
  EXPECT_EQ(workers_.back()->WaitWithin(std::chrono::seconds(60)), 8);
  const std::string plaintext = ReadFile(dir_ / "plaintext-worker.log");
  EXPECT_NE(plaintext.find("if the coordinator serves TLS, give --tls_ca"), std::string::npos)
      << plaintext;
  EXPECT_TRUE(kill(workers_[workers_.size() - 2]->pid(), 0) == 0) << plaintext;  // dials on
  const std::string other_ca = ReadFile(dir_ / "other-ca-worker.log");
  EXPECT_NE(other_ca.find("polytrain-worker: cannot connect to the coordinator at " + Address() +
                          " over TLS as configured (every dial failed for 10 s): "),
            std::string::npos)
      << other_ca;
  EXPECT_NE(other_ca.find("certificate verify failed (the coordinator's certificate is not "
                          "signed by the CA in --tls_ca: give the CA that signed it)"),
            std::string::npos)
      << other_ca;
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

}  // namespace
}  // namespace security_test
}  // namespace polytrain
