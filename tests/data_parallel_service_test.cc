// Data-parallel jobs (spec.replicas > 1) through the real service: a coordinator and worker
// processes on loopback, each rank on its own worker, gradients through c10d's Gloo over TCP.
// The faults are real too: a rank's worker SIGKILLed mid-run, a cancel, a rendezvous nobody can
// reach. (The replicas run on loopback, one host; see README "Data-parallel jobs".)
#include <csignal>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "testing/service_fixture.h"

namespace polytrain {
namespace {

using polytrain::testing::Spec;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

const std::vector<std::string> kOneThread = {"--threads", "1"};

class DataParallelServiceTest : public testing::ServiceFixture {
 protected:
  static v1::JobSpec FashionMnist(const std::string& name, int replicas) {
    v1::JobSpec spec;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(
          model { mlp { hidden: [128] } }
          dataset { fashion_mnist {} }
          loss { poly1 { epsilon: 2 } }
          optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
          epochs: 1
          batch_size: 128
          seed: 3
        )",
        &spec));
    spec.set_name(name);
    spec.set_replicas(replicas);
    return spec;
  }

  bool WaitForEnd(const std::string& id, double seconds = 180) {
    return WaitFor(
        [&] {
          const v1::JobState state = Get(id).state();
          return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
                 state == v1::JOB_STATE_CANCELLED;
        },
        seconds);
  }
};

TEST_F(DataParallelServiceTest, TwoReplicasOfFashionMnistMatchOneReplica) {
  StartCoordinator();
  StartWorker("w1", nullptr, false, 0, kOneThread);
  StartWorker("w2", nullptr, false, 0, kOneThread);
  Job alone, gang;
  ASSERT_TRUE(Submit(FashionMnist("alone", 1), &alone).ok());
  ASSERT_TRUE(WaitForEnd(alone.id()));
  ASSERT_TRUE(Submit(FashionMnist("gang", 2), &gang).ok());
  ASSERT_TRUE(WaitForEnd(gang.id()));
  const Job one = Get(alone.id()), two = Get(gang.id());
  ASSERT_EQ(one.state(), v1::JOB_STATE_SUCCEEDED) << one.error();
  ASSERT_EQ(two.state(), v1::JOB_STATE_SUCCEEDED) << two.error();
  EXPECT_EQ(std::set<std::string>(two.rank_workers().begin(), two.rank_workers().end()),
            (std::set<std::string>{"w1", "w2"}));
  EXPECT_EQ(two.worker(), two.rank_workers(0));
  EXPECT_GE(one.final_metrics().at("eval_accuracy"), 0.80);
  // The same training up to float32 summation order over 469 steps.
  EXPECT_NEAR(two.final_metrics().at("eval_accuracy"), one.final_metrics().at("eval_accuracy"),
              0.01);
  // Rank 0 reports for the gang, with the gradient traffic of every step.
  const std::vector<v1::MetricPoint> points = Metrics(gang.id());
  int train_points = 0;
  for (const v1::MetricPoint& point : points) {
    if (point.kind() != v1::MetricPoint::KIND_TRAIN) continue;
    ++train_points;
    EXPECT_GT(point.values().at("allreduce_bytes_per_step"), 4.0 * (784 * 128 + 128 * 10));
    EXPECT_GT(point.values().at("samples_per_second"), 0);
  }
  EXPECT_GT(train_points, 10);
  // polyctl get shows where each rank ran.
  const std::string output = (dir_ / "get.out").string();
  testing::Process polyctl(
      POLYCTL_BINARY, {"--coordinator", "127.0.0.1:" + std::to_string(port_), "get", gang.id()},
      output);
  ASSERT_EQ(polyctl.Wait(), 0);
  std::ifstream in(output);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("  2 replicas, global batch 128 (64 per replica):\n    rank 0 on " +
                      two.rank_workers(0) + "\n    rank 1 on " + two.rank_workers(1) + "\n"),
            std::string::npos)
      << text;
}

TEST_F(DataParallelServiceTest, AKilledRankRequeuesTheGangFromItsCheckpointWithoutWaiting) {
  // A lease far longer than the test waits: the requeue comes from the surviving rank seeing
  // its peer's connection close, not from the lease.
  StartCoordinator(/*lease_seconds=*/300);
  StartWorker("a", nullptr, /*checkpoints=*/true, 0, kOneThread);
  StartWorker("b", nullptr, /*checkpoints=*/true, 0, kOneThread);
  v1::JobSpec spec = Spec("gang", 60);
  spec.set_replicas(2);
  spec.mutable_checkpoint()->set_every_steps(200);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Get(job.id()).checkpoint().empty(); }, 120));
  // The workers connect in either order; rank 1's is killed.
  const Job before = Get(job.id());
  ASSERT_EQ(before.rank_workers_size(), 2);
  const std::string survivor = before.rank_workers(0);
  workers_[before.rank_workers(1) == "a" ? 0 : 1]->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_QUEUED; }, 60))
      << v1::JobState_Name(Get(job.id()).state());
  const Job requeued = Get(job.id());
  EXPECT_EQ(requeued.attempts(), 1);
  EXPECT_NE(requeued.error().find("rank 0 on worker " + survivor + " lost its gang (attempt 1)"),
            std::string::npos)
      << requeued.error();
  StartWorker("rescuer", nullptr, /*checkpoints=*/true, 0, kOneThread);
  ASSERT_TRUE(WaitForEnd(job.id(), 240));
  const Job done = Get(job.id());
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  EXPECT_EQ(done.attempts(), 2);  // one new attempt for the whole gang
  EXPECT_GT(done.resumed_from_step(), 0);
  EXPECT_EQ(std::set<std::string>(done.rank_workers().begin(), done.rank_workers().end()),
            (std::set<std::string>{survivor, "rescuer"}));
  EXPECT_GE(done.final_metrics().at("eval_accuracy"), 0.85);
}

TEST_F(DataParallelServiceTest, EachRankReportsItsTimesAndCancelStopsThemAll) {
  StartCoordinator();
  int metrics_ports[2] = {0, 0};
  StartWorker("w1", &metrics_ports[0], false, 0, kOneThread);
  StartWorker("w2", &metrics_ports[1], false, 0, kOneThread);
  v1::JobSpec spec = Spec("long", 1000);
  spec.set_replicas(2);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  // Every rank's worker shows that rank's step time, its all-reduce part and its throughput.
  const Job running = Get(job.id());
  for (int rank = 0; rank < 2; ++rank) {
    const int port = metrics_ports[running.rank_workers(rank) == "w1" ? 0 : 1];
    const std::string labels =
        "{job_id=\"" + job.id() + "\",rank=\"" + std::to_string(rank) + "\"}";
    ASSERT_TRUE(WaitFor(
        [&] { return Scrape("polytrain_worker_replica_step_seconds" + labels, port) > 0; }, 30))
        << "rank " << rank;
    // One scrape: the window's step time and its all-reduce part come from the same window.
    const std::string body = polytrain::testing::HttpGet(port, "/metrics");
    const double step = SeriesValue(body, "polytrain_worker_replica_step_seconds" + labels);
    const double allreduce =
        SeriesValue(body, "polytrain_worker_replica_allreduce_seconds" + labels);
    EXPECT_GT(allreduce, 0) << "rank " << rank;
    EXPECT_LT(allreduce, step) << "rank " << rank;
    EXPECT_GT(Scrape("polytrain_worker_samples_per_second", port), 0) << "rank " << rank;
  }
  grpc::ClientContext context;
  v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  Job ignored;
  ASSERT_TRUE(stub_->CancelJob(&context, cancel, &ignored).ok());
  ASSERT_TRUE(WaitForEnd(job.id(), 60));
  EXPECT_EQ(Get(job.id()).state(), v1::JOB_STATE_CANCELLED);
  // Both workers free again: another gang of two runs to the end.
  v1::JobSpec next_spec = Spec("next", 1);
  next_spec.set_replicas(2);
  Job next;
  ASSERT_TRUE(Submit(next_spec, &next).ok());
  ASSERT_TRUE(WaitForEnd(next.id(), 60));
  EXPECT_EQ(Get(next.id()).state(), v1::JOB_STATE_SUCCEEDED) << Get(next.id()).error();
}

// A rank whose peer hangs (its worker stopped, as a frozen host) waits in its all-reduce. The
// cancel ends that wait, by ending the rank's gang process, and the worker goes on with its slot
// free; in the worker's own process the rank stayed stuck until --cancel_grace_seconds, when the
// worker exited to be restarted (README "Data-parallel jobs").
TEST_F(DataParallelServiceTest, ACancelFreesARankWhosePeerHangs) {
  StartCoordinator(/*lease_seconds=*/300);
  int metrics_ports[2] = {0, 0};
  const std::vector<std::string> args = {"--threads", "1", "--cancel_grace_seconds", "10"};
  StartWorker("w1", &metrics_ports[0], false, 0, args);
  StartWorker("w2", &metrics_ports[1], false, 0, args);
  v1::JobSpec spec = Spec("hung", 1000);
  spec.set_replicas(2);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  const Job running = Get(job.id());
  ASSERT_EQ(running.rank_workers_size(), 2);
  const int hung = running.rank_workers(1) == "w1" ? 0 : 1;
  ASSERT_EQ(kill(workers_[hung]->pid(), SIGSTOP), 0);
  grpc::ClientContext context;
  v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  Job ignored;
  ASSERT_TRUE(stub_->CancelJob(&context, cancel, &ignored).ok());
  // Rank 0's worker runs nothing any more, and is up to say so (-1: no answer).
  const int survivor_port = metrics_ports[1 - hung];
  ASSERT_TRUE(
      WaitFor([&] { return Scrape("polytrain_worker_jobs_running", survivor_port) == 0; }, 60))
      << Scrape("polytrain_worker_jobs_running", survivor_port);
  // The coordinator records the cancel from the survivor's report, which may still be on its
  // way when the survivor's slot reads free.
  EXPECT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_CANCELLED; }, 60))
      << Get(job.id()).ShortDebugString();
  kill(workers_[hung]->pid(), SIGCONT);
}

// A worker advertising another machine's address (TEST-NET-1) is refused when it starts
// (polytrain_worker_cli_test), and a rank whose address is not its machine's fails before it
// joins, leaving its peers where a cancel reaches them (data_parallel_test): no gang of the
// service meets such a worker any more.

}  // namespace
}  // namespace polytrain
