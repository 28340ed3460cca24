// Faults injected for real into a running service: workers and the coordinator killed with
// SIGKILL, the worker's connection cut by a TCP proxy and restored, a stored checkpoint damaged
// on disk. Each test checks that nothing acknowledged is lost and nothing is counted twice: a
// job's stored metric history is compared, point by point, with that of an uninterrupted run
// of the same spec (training on CPU is deterministic for a seed and thread count).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "client/coordinator_client.h"
#include "testing/service_fixture.h"
#include "testing/tcp_proxy.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::testing::Spec;
using polytrain::testing::TcpProxy;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;
using polytrain::v1::MetricPoint;

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

  bool WaitForAcknowledged(size_t count) {
    return WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return acknowledged_.size() >= count;
    });
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

class FaultTest : public testing::ServiceFixture {
 protected:
  // Runs `spec` again, uninterrupted and ahead of anything queued, and expects `id`'s stored
  // history to be the same points: every step and kind once, nothing missing, the evaluations
  // equal to the last bit. Timings (elapsed, throughput) differ between runs and are not
  // compared.
  void ExpectSameHistoryAsAnUninterruptedRun(const std::string& id, v1::JobSpec spec) {
    spec.set_name("uninterrupted-" + spec.name());
    spec.set_priority(100);
    Job reference;
    ASSERT_TRUE(Submit(spec, &reference).ok());
    ASSERT_TRUE(WaitForState(reference.id(), v1::JOB_STATE_SUCCEEDED, 180));
    const std::vector<MetricPoint> actual = Metrics(id), expected = Metrics(reference.id());
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      ASSERT_EQ(std::make_tuple(actual[i].kind(), actual[i].step(), actual[i].epoch()),
                std::make_tuple(expected[i].kind(), expected[i].step(), expected[i].epoch()))
          << "point " << i;
      for (const char* key : {"loss", "eval_loss", "eval_accuracy"}) {
        auto a = actual[i].values().find(key), e = expected[i].values().find(key);
        ASSERT_EQ(a == actual[i].values().end(), e == expected[i].values().end()) << key;
        if (a != actual[i].values().end()) {
          EXPECT_EQ(a->second, e->second) << key << " at step " << actual[i].step();
        }
      }
    }
    EXPECT_EQ(Get(id).final_metrics().at("eval_loss"),
              Get(reference.id()).final_metrics().at("eval_loss"));
  }

  // Every id is a stored job (through the current coordinator).
  void ExpectAllStored(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      grpc::ClientContext context;
      v1::GetJobRequest request;
      request.set_id(id);
      Job stored;
      ASSERT_TRUE(stub_->GetJob(&context, request, &stored).ok()) << id << " lost";
    }
  }

  // The checkpoints of `id` stored on the coordinator, oldest first.
  std::vector<std::string> StoredCheckpoints(const std::string& id) {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir_ / "artifacts" / id, error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("ckpt-", 0) == 0 && name.size() == 20) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(FaultTest, AWorkerKeepsTrainingThroughACutStreamAndFlushesOnReconnect) {
  StartCoordinator();  // 30 s leases: longer than the cut
  TcpProxy proxy(port_);
  int worker_metrics = 0;
  StartWorker("w1", &worker_metrics, false, proxy.port());
  const v1::JobSpec spec = Spec("through-a-cut", 600);  // a few seconds
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));

  proxy.Cut();
  // It trains on, holding its points: the worker's own gauge shows them piling up.
  ASSERT_TRUE(WaitFor(
      [&] { return Scrape("polytrain_worker_buffered_metric_points", worker_metrics) >= 20; }));
  EXPECT_EQ(Get(job.id()).state(), v1::JOB_STATE_RUNNING);
  proxy.Restore();

  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  EXPECT_EQ(Get(job.id()).attempts(), 1);  // the same attempt throughout, never requeued
  EXPECT_GE(proxy.forwarded(), 2);         // it did reconnect
  ASSERT_TRUE(WaitFor(
      [&] { return Scrape("polytrain_worker_buffered_metric_points", worker_metrics) == 0; }));
  EXPECT_EQ(Scrape("polytrain_worker_dropped_metric_points_total", worker_metrics), 0);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AWorkerWhoseConnectionFallsSilentIsLetGoByKeepaliveAndComesBack) {
  // Leases far longer than the test: only the keepalive ping can end the silent connection. (3 s,
  // not 1: every connection must answer pings that fast, the test's own client on a busy CI
  // machine too.)
  StartCoordinator(/*lease_seconds=*/3600, {"--keepalive_seconds", "3"});
  TcpProxy proxy(port_);
  StartWorker("hung", nullptr, false, proxy.port());
  const v1::JobSpec spec = Spec("through-a-hang", 600);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  ASSERT_EQ(Scrape("polytrain_workers_connected"), 1);
  proxy.Freeze();  // no byte moves, no connection ends: a hung host
  ASSERT_TRUE(WaitFor([&] { return Scrape("polytrain_workers_connected") == 0; }, 30));
  proxy.Thaw();
  // The worker finds its stream ended, dials again and re-attaches the job it kept training.
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  EXPECT_EQ(Get(job.id()).attempts(), 1);
  EXPECT_GE(proxy.forwarded(), 2);
}

TEST_F(FaultTest, ACoordinatorKilledUnderLoadReattachesItsRunningJobAndLosesNothing) {
  StartCoordinator();
  TcpProxy proxy(port_);  // the worker's way in, pointed at the restarted coordinator later
  StartWorker("w1", nullptr, false, proxy.port());
  const v1::JobSpec spec = Spec("outlives-its-coordinator", 600);  // a few seconds
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));

  // Four clients submit as fast as they can while the job streams its metrics.
  SubmissionLoad load(port_, 4, /*epochs=*/1);
  ASSERT_TRUE(load.WaitForAcknowledged(200));
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

TEST_F(FaultTest, ADamagedStoredCheckpointIsPassedOverForThePreviousOne) {
  StartCoordinator(/*lease_seconds=*/2);
  StartWorker("doomed", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("resumable-despite-damage", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return StoredCheckpoints(job.id()).size() >= 2; }));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 30));

  // The newest stored checkpoint rots on disk: one byte flipped in its middle.
  const std::vector<std::string> stored = StoredCheckpoints(job.id());
  const std::string newest = Get(job.id()).checkpoint();
  ASSERT_EQ(job.id() + "/" + stored.back(), newest);
  const fs::path damaged = dir_ / "artifacts" / newest;
  {
    std::fstream file(damaged, std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(damaged) / 2);
    file.seekg(middle);
    const char byte = static_cast<char>(file.get());
    file.seekp(middle);
    file.put(static_cast<char>(byte ^ 0x01));
  }
  const std::string previous = stored[stored.size() - 2];

  StartWorker("rescuer", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job resumed = Get(job.id());
  EXPECT_EQ(resumed.attempts(), 2);
  EXPECT_EQ(resumed.resumed_from_step(), std::stoll(previous.substr(5, 12)));
  // What the dead attempt stored past that checkpoint was replaced, not doubled.
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
  // The coordinator keeps the newest three checkpoints of a job, not every one uploaded.
  EXPECT_EQ(StoredCheckpoints(job.id()).size(), 3u);
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

TEST_F(FaultTest, ARequeuedJobResumesFromItsUploadedCheckpointOnAnotherWorker) {
  StartCoordinator(/*lease_seconds=*/2);
  StartWorker("doomed", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("resumable", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  // Killed once a mid-run checkpoint has reached the coordinator.
  ASSERT_TRUE(WaitFor([&] { return !Get(job.id()).checkpoint().empty(); }));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 30));
  const std::string checkpoint = Get(job.id()).checkpoint();
  StartWorker("rescuer", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job resumed = Get(job.id());
  EXPECT_EQ(resumed.attempts(), 2);
  EXPECT_EQ(resumed.worker(), "rescuer");
  // It continued at the checkpoint's step, not from the start.
  const int64_t step = std::stoll(checkpoint.substr(checkpoint.find("ckpt-") + 5, 12));
  EXPECT_GT(step, 0);
  EXPECT_EQ(resumed.resumed_from_step(),
            step);  // the uploaded checkpoint, downloaded by the rescuer

  // And ended where an uninterrupted run of the same spec ends, to the last bit, with every
  // metric point once.
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AWorkerRestartedUnderItsNameGetsItsJobBackWithoutWaitingForTheLease) {
  // A lease far longer than the test may take: only the worker's hello can end the attempt.
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("phoenix", nullptr, /*checkpoints=*/true);
  v1::JobSpec spec = Spec("reborn", 150);
  spec.mutable_checkpoint()->set_every_steps(400);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Get(job.id()).checkpoint().empty(); }));
  workers_.back()->Kill(SIGKILL);
  StartWorker("phoenix", nullptr, /*checkpoints=*/true);  // as a supervisor would restart it
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120))
      << v1::JobState_Name(Get(job.id()).state()) << " " << Get(job.id()).error();
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_GT(done.resumed_from_step(), 0);
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
}

TEST_F(FaultTest, AWorkerStoppedWithSigtermCheckpointsAndGivesItsJobBackAtOnce) {
  // A lease far longer than the test may take: only the worker's release can requeue the job.
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("drained", nullptr, /*checkpoints=*/true);
  // No periodic checkpoints: the only one the next attempt can resume from is the one the
  // drained worker writes and uploads as it gives the job back.
  v1::JobSpec spec = Spec("handed-over", 150);
  spec.set_max_attempts(2);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));  // it has trained
  const int status = workers_.back()->Kill(SIGTERM);  // as a rolling restart stops a pod
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Requeued by the time the worker has exited, not after its lease: not cancelled either.
  const Job released = Get(job.id());
  EXPECT_EQ(released.state(), v1::JOB_STATE_QUEUED) << released.error();
  EXPECT_EQ(released.error(), "worker drained shut down during attempt 1 and gave the job back");
  EXPECT_FALSE(released.checkpoint().empty());
  StartWorker("successor", nullptr, /*checkpoints=*/true);
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.worker(), "successor");
  // From the checkpoint written at the release, where a logging window (10 steps) ended.
  EXPECT_GT(done.resumed_from_step(), 0);
  EXPECT_EQ(done.resumed_from_step() % 10, 0) << done.resumed_from_step();
  ExpectSameHistoryAsAnUninterruptedRun(job.id(), spec);
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

TEST_F(FaultTest, LapsedLeaseRequeuesTheJobOnAnotherWorker) {
  StartCoordinator(/*lease_seconds=*/2);
  StartWorker("doomed");
  Job job;
  v1::JobSpec spec = Spec("survivor", 200);
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_RUNNING));
  workers_.back()->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 20));
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker doomed (attempt 1)");
  StartWorker("rescuer");
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED, 120));
  const Job done = Get(job.id());
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_EQ(done.worker(), "rescuer");
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
  StartCoordinator(/*lease_seconds=*/3);
  const auto serving = std::chrono::steady_clock::now();  // the port answers
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 20))
      << v1::JobState_Name(Get(job.id()).state());
  // A whole lease from when it serves (less what StartCoordinator took after it began serving),
  // not one that had lapsed before or lapses at once.
  EXPECT_GE(std::chrono::steady_clock::now() - serving, std::chrono::milliseconds(1500));
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
  // 2 s let the job go first on a loaded machine.
  StartCoordinator(/*lease_seconds=*/6);
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
}  // namespace polytrain
