// The coordinator killed with SIGKILL under load, while a job ends, while a submit is in flight,
// and restarted: nothing acknowledged is lost and nothing is counted twice (a job's stored
// history compared point by point with an uninterrupted run's), running jobs re-attach or are
// requeued a lease after the restart, and time limits that passed meanwhile are kept.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/coordinator_client.h"
#include "testing/service_fixture.h"
#include "testing/tcp_proxy.h"
#include "tests/fault_fixture.h"

namespace polytrain::fault_test {
namespace {

namespace fs = std::filesystem;
using polytrain::testing::Spec;
using polytrain::testing::TcpProxy;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

// Clients submitting tiny jobs as fast as they can, each over its own stub, until Stop(); a job
// counts as acknowledged once its SubmitJob returned OK.
class SubmissionLoad {
 public:
  SubmissionLoad(int port, int clients, int epochs)
      : stub_(v1::Coordinator::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()))) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c, epochs] {
        for (int i = 0; !stop_; ++i) {
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          v1::SubmitJobRequest request;
          *request.mutable_spec() =
              Spec("load-" + std::to_string(c) + "-" + std::to_string(i), epochs);
          Job submitted;
          if (stub_->SubmitJob(&context, request, &submitted).ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            acknowledged_.push_back(submitted.id());
          }
        }
      });
    }
  }
  ~SubmissionLoad() { Stop(); }

  size_t acknowledged() {
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_.size();
  }
  bool WaitForAcknowledged(size_t count) {
    return WaitFor([&] { return acknowledged() >= count; });
  }
  // Stops the clients; returns every acknowledged job id.
  std::vector<std::string> Stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    return acknowledged_;
  }

 private:
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> acknowledged_;
  std::vector<std::thread> threads_;
};

TEST_F(FaultTest, ACoordinatorKilledUnderLoadReattachesItsRunningJobAndLosesNothing) {
  StartCoordinator();
  TcpProxy proxy(port_);  // the worker's way in, pointed at the restarted coordinator later
  StartWorker("w1", nullptr, false, proxy.port());
  const v1::JobSpec spec = Spec("outlives-its-coordinator", 600);  // 24000 steps
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));

  // Four clients submit as fast as they can while the job streams its metrics, up to 200 jobs,
  // or until the job is a third done where submits are slower than training (a busy machine):
  // the job is still running at the kill.
  SubmissionLoad load(port_, 4, /*epochs=*/1);
  const auto newest_step = [&] {
    grpc::ClientContext context;
    v1::GetMetricsRequest request;
    request.set_job_id(job.id());
    request.set_max_points(1);
    v1::GetMetricsResponse newest;
    return stub_->GetMetrics(&context, request, &newest).ok() && newest.points_size() == 1
               ? newest.points(0).step()
               : 0;
  };
  ASSERT_TRUE(WaitFor([&] { return load.acknowledged() >= 200 || newest_step() >= 8000; }));
  ASSERT_GT(load.acknowledged(), 0u);
  ASSERT_EQ(Get(job.id()).state(), v1::JOB_STATE_RUNNING);
  coordinator_->Kill(SIGKILL);
  const std::vector<std::string> acknowledged = load.Stop();

  StartCoordinator();  // the same database, a new port
  proxy.SetTarget(port_);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 1);  // re-attached when its worker reconnected, not rerun
  EXPECT_EQ(done.worker(), "w1");
  ExpectAllStored(acknowledged);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AJobThatEndsWhileItsCoordinatorIsDownStillStoresItsLastCheckpoint) {
  StartCoordinator();
  TcpProxy proxy(port_);
  StartWorker("w1", nullptr, /*checkpoints=*/true, proxy.port());
  v1::JobSpec spec = Spec("ends-while-the-coordinator-is-down", 600);  // 24000 steps
  spec.mutable_checkpoint()->set_every_steps(4000);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !StoredCheckpoints(job.id()).empty(); }));
  coordinator_->Kill(SIGKILL);
  // The worker writes its last checkpoint while nobody can take it.
  const std::string last = "ckpt-000000024000.pt";
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "w1-checkpoints" / job.id() / last); }, 60));

  StartCoordinator();
  proxy.SetTarget(port_);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  EXPECT_EQ(Get(job.id()).checkpoint(), job.id() + "/" + last);
  EXPECT_EQ(StoredCheckpoints(job.id()).back(), last);
}

TEST_F(FaultTest, EveryAcknowledgedSubmissionSurvivesACoordinatorKill) {
  StartCoordinator();
  SubmissionLoad load(port_, 2, /*epochs=*/2);
  ASSERT_TRUE(load.WaitForAcknowledged(300));
  coordinator_->Kill(SIGKILL);  // mid-load
  const std::vector<std::string> acknowledged = load.Stop();
  StartCoordinator();  // the same database file
  ExpectAllStored(acknowledged);
  for (const std::string& id : acknowledged) {
    EXPECT_EQ(Get(id).state(), v1::JOB_STATE_QUEUED);  // no worker: still waiting
  }
  v1::ListJobsRequest all;
  all.set_page_size(1000);
  EXPECT_GE(List(all).jobs_size(), std::min<int>(1000, acknowledged.size()));
}

TEST_F(FaultTest, AWorkerRestartedAfterItsCoordinatorWasDownResumesOnlyFromAStoredCheckpoint) {
  // The worker trains on while its coordinator is down, checkpointing here and holding the metric
  // points; then it is killed too, and those points die with it. Restarted under its name, it
  // must not resume from a checkpoint the coordinator never stored: the points before it would
  // be missing from the job's history for good.
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("amnesiac", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("gapless", 150);  // 6000 steps
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  const std::string stored = fs::path(Get(job.id()).checkpoint()).filename();  // "" if none yet
  coordinator_->Kill(SIGKILL);
  const fs::path local = dir_ / "amnesiac-checkpoints" / job.id();
  // Two checkpoints past the stored one, written while nobody could take them.
  ASSERT_TRUE(WaitFor(
      [&] {
        int unstored = 0;
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(local, error)) {
          const std::string name = entry.path().filename();
          unstored += name.size() == 20 && name.rfind("ckpt-", 0) == 0 && name > stored;
        }
        return unstored >= 2;
      },
      60));
  workers_.back()->Kill(SIGKILL);

  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("amnesiac", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120))
      << v1::JobState_Name(Get(job.id()).state()) << " " << Get(job.id()).error();
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);  // no gap where the points died
}

TEST_F(FaultTest, CoordinatorRestartKeepsJobsAndMetrics) {
  StartCoordinator();
  StartWorker("w1");
  Job job;
  ASSERT_TRUE(Submit(Spec("durable"), &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  coordinator_->Kill(SIGKILL);
  StartCoordinator();
  const Job after = Get(job.id());
  EXPECT_EQ(after.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_GE(after.final_metrics().at("eval_accuracy"), 0.85);
  grpc::ClientContext context;
  v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  v1::GetMetricsResponse metrics;
  ASSERT_TRUE(stub_->GetMetrics(&context, request, &metrics).ok());
  EXPECT_GT(metrics.points_size(), 2);
}

// A running job restored by a restarted coordinator waits one lease for its worker, counted from
// when the coordinator serves again; a worker that never comes back loses it then.
TEST_F(FaultTest, ARestoredJobWhoseWorkerNeverReturnsIsRequeuedALeaseAfterTheRestart) {
  StartCoordinator(/*lease_seconds=*/2);
  StartWorker("gone");
  Job job;
  ASSERT_TRUE(Submit(Spec("orphan", 200), &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_RUNNING));
  coordinator_->Kill(SIGKILL);
  workers_.back()->Kill(SIGKILL);
  StartCoordinator(/*lease_seconds=*/10);
  const auto serving = std::chrono::steady_clock::now();  // the port answers
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 40))
      << v1::JobState_Name(Get(job.id()).state());
  // A whole lease from when it serves (less what StartCoordinator took after it began serving:
  // half a lease is left for a slow machine), not one that had lapsed before or lapses at once.
  EXPECT_GE(std::chrono::steady_clock::now() - serving, std::chrono::seconds(5));
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker gone (attempt 1)");
}

// A job whose time limit passes while its coordinator is down: the restarted coordinator stops
// it once its worker re-attaches (the worker confirms, so the error says nothing of an unheard
// worker), and the points the worker made meanwhile are stored (probe W: it was failed at start-up,
// 'let go without word from its worker', and those points were dropped).
TEST_F(FaultTest, ATimeLimitPassedWhileTheCoordinatorWasDownStopsTheJobOnceItsWorkerIsBack) {
  StartCoordinator(/*lease_seconds=*/2);
  TcpProxy proxy(port_);
  StartWorker("w1", nullptr, false, proxy.port());
  v1::JobSpec spec = Spec("limit-while-down", 10000);  // far longer than its limit
  spec.set_time_limit_seconds(2);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  const size_t before = Metrics(job.id()).size();
  const auto killed = std::chrono::steady_clock::now();
  coordinator_->Kill(SIGKILL);
  // Down past the attempt's limit and a lease more (time itself is what is waited for here).
  ASSERT_TRUE(WaitFor(
      [&] { return std::chrono::steady_clock::now() - killed > std::chrono::seconds(6); }, 10));
  // The restored job's lease outlasts the worker's redial: gRPC's reconnect backoff alone may
  // take kMaxReconnectBackoffMs (2 s, with jitter) after the port answers again, and a lease of
  // 2 s let the job go first on a loaded machine (6 s is not much more where the machine is slow).
  StartCoordinator(/*lease_seconds=*/30);
  proxy.SetTarget(port_);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_FAILED, 60));
  const Job done = Get(job.id());
  EXPECT_EQ(done.error().rfind("ran past spec.time_limit_seconds (2 s) on attempt 1", 0), 0u)
      << done.error();
  EXPECT_EQ(done.error().find("without word"), std::string::npos) << done.error();
  EXPECT_GT(Metrics(job.id()).size(), before);  // what it made while the coordinator was down
}

// A submit whose connection is lost before it is answered (the coordinator may have stored it)
// is sent again with its request id until answered: one job, whether the first try reached the
// coordinator or not (polyctl's CoordinatorClient::CallAgainWhileAway).
TEST_F(FaultTest, ASubmitCutOffBeforeItsAnswerIsSentAgainAndStoredOnce) {
  StartCoordinator();
  TcpProxy proxy(port_);
  CoordinatorClient client("127.0.0.1:" + std::to_string(proxy.port()), ClientSecurityOptions{});
  client.set_rewatch_seconds(60);
  v1::SubmitJobRequest request;
  *request.mutable_spec() = Spec("resent", 1);
  request.set_client_request_id("resent-1");

  // Stored, then the answer lost: the request again gets the job stored the first time.
  v1::Job stored;
  ASSERT_TRUE(Submit(request.spec(), &stored, "resent-1").ok());
  ASSERT_TRUE(client.Call(&v1::Coordinator::Stub::ListJobs, v1::ListJobsRequest()).ok());
  proxy.Cut();  // the connection ends; new ones are refused until Restore()
  absl::StatusOr<v1::Job> again;
  std::thread submit(
      [&] { again = client.CallAgainWhileAway(&v1::Coordinator::Stub::SubmitJob, request); });
  ASSERT_TRUE(WaitFor([&] { return client.sent_again() >= 1; }, 30));
  proxy.Restore();
  submit.join();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), stored.id());

  // Never stored: sent again, stored once.
  request.set_client_request_id("resent-2");
  proxy.Cut();
  std::thread second(
      [&] { again = client.CallAgainWhileAway(&v1::Coordinator::Stub::SubmitJob, request); });
  ASSERT_TRUE(WaitFor([&] { return client.sent_again() >= 2; }, 30));
  proxy.Restore();
  second.join();
  ASSERT_TRUE(again.ok()) << again.status();
  v1::ListJobsRequest all;
  v1::ListJobsResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListJobs(&context, all, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 2);  // "resent-1" once and "resent-2" once

  // A request without an id gets one, so that it can be sent again safely.
  request.clear_client_request_id();
  absl::StatusOr<v1::Job> named =
      client.CallAgainWhileAway(&v1::Coordinator::Stub::SubmitJob, request);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->client_request_id().rfind("polyctl-", 0), 0u) << named->client_request_id();

  // A coordinator never reached is an error at once, not a wait.
  CoordinatorClient nowhere("127.0.0.1:1", ClientSecurityOptions{});
  EXPECT_TRUE(absl::IsUnavailable(
      nowhere.CallAgainWhileAway(&v1::Coordinator::Stub::SubmitJob, request).status()));
  EXPECT_EQ(nowhere.sent_again(), 0);
}

}  // namespace
}  // namespace polytrain::fault_test
