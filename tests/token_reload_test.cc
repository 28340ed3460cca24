// A coordinator's --tokens file read again on SIGHUP: a revoked token is refused on its next call
// and its workers' streams are closed, a new token works at once, and a file with an error
// leaves the tokens in force as they were. Real processes on loopback.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "common/sha256.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "testing/service_fixture.h"

namespace polytrain {
namespace {

using testing::WaitFor;

constexpr char kAliceToken[] = "alice-client-token-5e2d9c1a";
constexpr char kBobToken[] = "bob-client-token-0f3b7e6d42";
constexpr char kWorkerToken[] = "pool-worker-token-c4e6a8b0d2";
constexpr char kRotatedWorkerToken[] = "pool-worker-token-rotated-91f3";

std::string Line(const std::string& role, const std::string& name, const std::string& token) {
  return role + " " + name + " sha256:" + Sha256Hex(token) + "\n";
}

class TokenReloadTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ServiceFixture::SetUp();
    coordinator_log_ = (dir_ / "coordinator.log").string();
  }
  void WriteTokens(const std::string& text) { std::ofstream(dir_ / "tokens.txt") << text; }
  std::string Log() {
    std::ifstream in(coordinator_log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  grpc::StatusCode ListWith(const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.AddMetadata("authorization", "Bearer " + token);
    v1::ListJobsRequest request;
    v1::ListJobsResponse response;
    return stub_->ListJobs(&context, request, &response).error_code();
  }
};

TEST_F(TokenReloadTest, SighupRevokesAndAddsTokensAndKeepsThemWhenTheFileIsBroken) {
  WriteTokens(Line("client", "alice", kAliceToken) + Line("worker", "pool", kWorkerToken));
  StartCoordinator(30, {"--tokens", (dir_ / "tokens.txt").string()});
  ASSERT_EQ(ListWith(kAliceToken), grpc::StatusCode::OK);
  ASSERT_EQ(ListWith(kBobToken), grpc::StatusCode::UNAUTHENTICATED);

  // A worker stream under the worker token, welcomed.
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  auto workers = v1::WorkerService::NewStub(channel);
  grpc::ClientContext worker_context;
  // Bounded, so that a stream the reload fails to close fails the test instead of hanging it.
  worker_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  worker_context.AddMetadata("authorization", std::string("Bearer ") + kWorkerToken);
  auto stream = workers->Connect(&worker_context);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("w1");
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage welcome;
  ASSERT_TRUE(stream->Read(&welcome));
  ASSERT_TRUE(welcome.has_welcome());

  // Alice revoked, Bob added, and the worker token rotated (a new token under the same name, as
  // when one leaked): each call after the reload sees it, and the old token's stream is closed.
  WriteTokens(Line("client", "bob", kBobToken) + Line("worker", "pool", kRotatedWorkerToken));
  ASSERT_EQ(kill(coordinator_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return ListWith(kAliceToken) == grpc::StatusCode::UNAUTHENTICATED; }))
      << "the revoked token still works";
  EXPECT_EQ(ListWith(kBobToken), grpc::StatusCode::OK);
  v1::CoordinatorMessage next;
  while (stream->Read(&next)) {
  }
  const grpc::Status closed = stream->Finish();
  EXPECT_EQ(closed.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(closed.error_message(),
            "the worker token 'pool' was revoked (the coordinator's --tokens)");

  // A file with an error changes nothing: Bob still gets in, Alice still does not.
  WriteTokens(Line("client", "bob", kBobToken) + "client alice not-a-hash\n");
  EXPECT_TRUE(WaitFor([&] {
    return Log().find("reloaded 2 tokens from " + (dir_ / "tokens.txt").string() +
                      "; closed 1 worker stream(s) whose token was revoked") != std::string::npos;
  })) << Log();
  ASSERT_EQ(kill(coordinator_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return Log().find("--tokens not reloaded") != std::string::npos; }))
      << Log();
  EXPECT_NE(Log().find(":2: "), std::string::npos) << Log();  // the line it names
  EXPECT_EQ(ListWith(kBobToken), grpc::StatusCode::OK);
  EXPECT_EQ(ListWith(kAliceToken), grpc::StatusCode::UNAUTHENTICATED);
}

// A worker whose token is revoked is refused at each dial; once its jobs' lease has lapsed (the
// coordinator requeued them) it stops training them rather than train on for nobody.
TEST_F(TokenReloadTest, ARefusedWorkerStopsItsJobsOnceTheirLeaseLapses) {
  WriteTokens(Line("client", "alice", kAliceToken) + Line("worker", "pool", kWorkerToken));
  StartCoordinator(/*lease_seconds=*/2, {"--tokens", (dir_ / "tokens.txt").string()});
  std::ofstream(dir_ / "worker.token") << kWorkerToken << "\n";
  int worker_metrics = 0;
  StartWorker("w1", &worker_metrics, false, 0, {"--token_file", (dir_ / "worker.token").string()});
  v1::SubmitJobRequest request;
  *request.mutable_spec() = testing::Spec("long", 1000);
  v1::Job job;
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kAliceToken);
    const grpc::Status submitted = stub_->SubmitJob(&context, request, &job);
    ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  }
  ASSERT_TRUE(
      WaitFor([&] { return Scrape("polytrain_worker_jobs_running", worker_metrics) == 1; }));

  WriteTokens(Line("client", "alice", kAliceToken));
  ASSERT_EQ(kill(coordinator_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return Log().find("queued again") != std::string::npos; })) << Log();
  EXPECT_TRUE(WaitFor([&] { return Scrape("polytrain_worker_jobs_running", worker_metrics) == 0; }))
      << "the refused worker still trains the job the coordinator requeued";
}

// A worker never welcomed has no jobs to keep: a token the coordinator refuses at every dial for
// 10 s ends it (exit 8, the coordinator's reason), where it used to dial on forever.
TEST_F(TokenReloadTest, AWorkerRefusedAtItsFirstDialExits) {
  WriteTokens(Line("client", "alice", kAliceToken) + Line("worker", "pool", kWorkerToken));
  StartCoordinator(/*lease_seconds=*/2, {"--tokens", (dir_ / "tokens.txt").string()});
  std::ofstream(dir_ / "client.token") << kAliceToken << "\n";
  const std::string output = (dir_ / "refused-worker.log").string();
  testing::Process worker(POLYTRAIN_WORKER_BINARY,
                          {"--coordinator", "127.0.0.1:" + std::to_string(port_), "--name", "w2",
                           "--token_file", (dir_ / "client.token").string()},
                          output);
  ASSERT_TRUE(worker.started());
  EXPECT_EQ(worker.WaitWithin(std::chrono::seconds(30)), 8);
  std::stringstream said;
  said << std::ifstream(output).rdbuf();
  EXPECT_NE(
      said.str().find("polytrain-worker: the coordinator at 127.0.0.1:" + std::to_string(port_) +
                      " refuses this worker: token of client 'alice': the worker protocol "
                      "needs a worker token"),
      std::string::npos)
      << said.str();
  // Counted for the operator's dashboards, by protocol and code.
  // Refused at each dial for 10 s before it gave up.
  EXPECT_GE(Scrape("polytrain_auth_refusals_total{code=\"PERMISSION_DENIED\",protocol=\"worker\"}"),
            3);
  EXPECT_EQ(Scrape("polytrain_auth_refusals_total{code=\"UNAUTHENTICATED\",protocol=\"client\"}"),
            0);
}

// Refused at first but let in within the window (its token added, the coordinator reloaded):
// the worker stays and serves. One refusal is no reason to end.
TEST_F(TokenReloadTest, AWorkerWhoseTokenIsAddedSoonAfterItStartsIsLetIn) {
  WriteTokens(Line("client", "alice", kAliceToken));
  StartCoordinator(/*lease_seconds=*/2, {"--tokens", (dir_ / "tokens.txt").string()});
  std::ofstream(dir_ / "worker.token") << kWorkerToken << "\n";
  StartWorker("w3", nullptr, false, 0, {"--token_file", (dir_ / "worker.token").string()});
  ASSERT_TRUE(WaitFor([&] {
    return Scrape("polytrain_auth_refusals_total{code=\"UNAUTHENTICATED\",protocol=\"worker\"}") >=
           1;
  }));
  WriteTokens(Line("client", "alice", kAliceToken) + Line("worker", "pool", kWorkerToken));
  ASSERT_EQ(kill(coordinator_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return Scrape("polytrain_workers_connected") == 1; }, 30)) << Log();
}

TEST_F(TokenReloadTest, SighupWithoutTokensChangesNothing) {
  StartCoordinator();
  const auto reload_refusals = [&] {
    const std::string log = Log();
    int count = 0;
    for (size_t at = log.find("no --tokens file to reload"); at != std::string::npos;
         at = log.find("no --tokens file to reload", at + 1)) {
      ++count;
    }
    return count;
  };
  for (int signals = 1; signals <= 2; ++signals) {
    ASSERT_EQ(kill(coordinator_->pid(), SIGHUP), 0);
    EXPECT_TRUE(WaitFor([&] { return reload_refusals() == signals; })) << Log();
  }
  // Still serving, still without tokens, and SIGTERM still ends it cleanly.
  EXPECT_EQ(ListWith("anything-at-all-0123"), grpc::StatusCode::OK);
  const int status = coordinator_->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace polytrain
