// The service end to end: a real polytrain-coordinator and real polytrain-workers as separate
// processes on 127.0.0.1 ports chosen at run time, a real SQLite file, gRPC over loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "testing/service_fixture.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::testing::Spec;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

class ServiceTest : public testing::ServiceFixture {};

TEST_F(ServiceTest, SubmittedJobRunsToSuccessWithItsMetricsStored) {
  StartCoordinator();
  StartWorker("w1");
  Job job;
  ASSERT_TRUE(Submit(Spec("first"), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.loss_name(), "poly1(e=1)");
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  const Job done = Get(job.id());
  EXPECT_EQ(done.worker(), "w1");
  EXPECT_EQ(done.attempts(), 1);
  EXPECT_GE(done.final_metrics().at("eval_accuracy"), 0.85);
  EXPECT_GT(done.end_time().seconds(), 0);

  grpc::ClientContext context;
  v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  v1::GetMetricsResponse metrics;
  ASSERT_TRUE(stub_->GetMetrics(&context, request, &metrics).ok());
  int evals = 0;
  for (const auto& p : metrics.points()) evals += p.kind() == v1::MetricPoint::KIND_EVAL;
  EXPECT_EQ(evals, 2);                                              // one per epoch
  EXPECT_EQ(metrics.points(metrics.points_size() - 1).step(), 80);  // 2 epochs x 40 steps
  grpc::ClientContext downsampled_context;
  request.set_max_points(3);
  v1::GetMetricsResponse downsampled;
  ASSERT_TRUE(stub_->GetMetrics(&downsampled_context, request, &downsampled).ok());
  ASSERT_EQ(downsampled.points_size(), 3);
  EXPECT_EQ(downsampled.points(0).step(), metrics.points(0).step());
  EXPECT_EQ(downsampled.points(2).step(), 80);
}

// A run that diverges between its logging points counts the steps it trained (the sweep's
// compute used sums them), not the last logged step (0 here: it logs every 1000).
TEST_F(ServiceTest, ADivergedJobCountsTheStepsItTrained) {
  StartCoordinator();
  StartWorker("w1");
  v1::JobSpec spec = Spec("diverges", 5);
  spec.mutable_dataset()->mutable_synthetic()->set_separation(100);
  spec.mutable_optimizer()->set_learning_rate(10);
  spec.mutable_optimizer()->mutable_sgd()->set_momentum(0.99);
  spec.mutable_loss()->mutable_focal()->set_gamma(0.5);
  spec.set_log_every_steps(1000);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_FAILED));
  const Job failed = Get(job.id());
  const size_t at = failed.error().find(" at step ");
  ASSERT_NE(at, std::string::npos) << failed.error();
  const int64_t diverged_at = std::stoll(failed.error().substr(at + 9));
  EXPECT_GT(diverged_at, 1) << failed.error();
  EXPECT_EQ(failed.steps(), diverged_at - 1) << failed.error();
}

TEST_F(ServiceTest, PrometheusEndpointShowsJobsWorkersRpcsAndPerJobProgress) {
  StartCoordinator();
  int worker_metrics_port = 0;
  StartWorker("w1", &worker_metrics_port);
  Job job;
  ASSERT_TRUE(Submit(Spec("watched"), &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  const Job done = Get(job.id());
  {  // a watch of the ended job: its state, then the stream ends (and is counted)
    grpc::ClientContext context;
    v1::WatchJobRequest request;
    request.set_id(job.id());
    auto reader = stub_->WatchJob(&context, request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  EXPECT_EQ(Scrape("polytrain_rpc_requests_total{code=\"OK\",method=\"WatchJob\"}"), 1);
  EXPECT_EQ(Scrape("polytrain_jobs{state=\"succeeded\"}"), 1);
  EXPECT_EQ(Scrape("polytrain_jobs{state=\"queued\"}"), 0);
  EXPECT_EQ(Scrape("polytrain_queue_depth"), 0);
  EXPECT_EQ(Scrape("polytrain_workers_connected"), 1);
  EXPECT_EQ(Scrape("polytrain_job_submissions_total"), 1);
  EXPECT_EQ(Scrape("polytrain_scheduling_latency_seconds_count"), 1);
  EXPECT_EQ(Scrape("polytrain_rpc_requests_total{code=\"OK\",method=\"SubmitJob\"}"), 1);
  const std::string labels =
      "{job_id=\"" + job.id() +
      "\",job_name=\"watched\",loss=\"poly1(e=1)\",replicas=\"1\",sweep=\"\"}";
  EXPECT_EQ(Scrape("polytrain_job_eval_accuracy" + labels),
            done.final_metrics().at("eval_accuracy"));
  EXPECT_EQ(Scrape("polytrain_job_step" + labels), 80);
  EXPECT_EQ(Scrape("polytrain_job_epoch" + labels), 1);
  // An ended job trains no more: its throughput reads 0 (its other values stay for the retention).
  EXPECT_EQ(Scrape("polytrain_job_samples_per_second" + labels), 0);
  EXPECT_GT(Scrape("polytrain_job_train_loss" + labels), 0);

  // The worker's own endpoint.
  const std::string worker_body = testing::HttpGet(worker_metrics_port, "/metrics");
  EXPECT_NE(worker_body.find("\npolytrain_worker_jobs_running 0"), std::string::npos)
      << worker_body;
  // Idle: no throughput, not the last job's.
  EXPECT_NE(worker_body.find("\npolytrain_worker_samples_per_second 0\n"), std::string::npos)
      << worker_body;
  EXPECT_NE(worker_body.find("\npolytrain_worker_step_seconds_count "), std::string::npos);
  EXPECT_EQ(worker_body.find("\npolytrain_worker_step_seconds_count 0\n"), std::string::npos);
  EXPECT_NE(worker_body.find("\nprocess_resident_memory_bytes "), std::string::npos);

  // Clients that connect and say nothing hold no scrape up (one idle connection used to take a
  // whole civetweb thread of two for 30 s; the worker's server used to serve one at a time).
  for (int port : {metrics_port_, worker_metrics_port}) {
    std::vector<int> idle;
    for (int i = 0; i < 8; ++i) {
      idle.push_back(socket(AF_INET, SOCK_STREAM, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
      ASSERT_EQ(connect(idle.back(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    }
    EXPECT_NE(testing::HttpGet(port, "/metrics", /*timeout_seconds=*/10).find("# TYPE"),
              std::string::npos)
        << "a scrape waited behind idle connections on port " << port;
    for (int fd : idle) close(fd);
  }

  // Both expositions pass Prometheus's own linter.
  for (int port : {metrics_port_, worker_metrics_port}) {
    const std::string exposition = (dir_ / "metrics.txt").string();
    std::ofstream(exposition) << testing::HttpGet(port, "/metrics");
    EXPECT_EQ(std::system(("promtool check metrics < " + exposition).c_str()), 0) << port;
  }
}

// An upload whose client went away (killed, or its call cancelled) counts as CANCELLED, not as a
// bad request; one that ends without its last chunk on purpose is refused naming `last`.
TEST_F(ServiceTest, AnUploadWhoseClientWentAwayCountsAsCancelled) {
  StartCoordinator();
  v1::UploadArtifactRequest first;
  first.set_name("model.pt");
  first.set_sha256("sha256:" + std::string(64, '0'));
  first.set_data(std::string(1000, 'x'));
  {
    grpc::ClientContext context;
    v1::Artifact stored;
    auto writer = stub_->UploadArtifact(&context, &stored);
    ASSERT_TRUE(writer->Write(first));
    context.TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const std::string counted =
      "polytrain_rpc_requests_total{code=\"CANCELLED\",method=\"UploadArtifact\"}";
  EXPECT_TRUE(WaitFor([&] { return Scrape(counted) == 1; })) << Scrape(counted);
  {
    grpc::ClientContext context;
    v1::Artifact stored;
    auto writer = stub_->UploadArtifact(&context, &stored);
    ASSERT_TRUE(writer->Write(first));
    ASSERT_TRUE(writer->WritesDone());
    const grpc::Status refused = writer->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(refused.error_message(), "last: the upload ended before a chunk marked last");
  }
  const std::string metrics = testing::HttpGet(metrics_port_, "/metrics");
  EXPECT_EQ(SeriesValue(metrics, counted), 1);
  EXPECT_EQ(SeriesValue(metrics,
                        "polytrain_rpc_requests_total{code=\"INVALID_ARGUMENT\","
                        "method=\"UploadArtifact\"}"),
            1);
  // Neither left a file behind.
  std::vector<std::string> left;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "artifacts")) {
    if (entry.is_regular_file()) left.push_back(entry.path().string());
  }
  EXPECT_TRUE(left.empty()) << left.front();
}

TEST_F(ServiceTest, WatchSeesEveryStateChangeAndMetricPoint) {
  StartCoordinator();
  Job job;
  ASSERT_TRUE(Submit(Spec("watched"), &job).ok());
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_id(job.id());
  auto reader = stub_->WatchJob(&context, request);
  v1::JobEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.job().state(), v1::JOB_STATE_QUEUED);  // the job as it is
  StartWorker("w1");                                     // only now can it run
  std::vector<v1::JobState> states;
  int points = 0;
  while (reader->Read(&event)) {
    if (event.has_job()) states.push_back(event.job().state());
    if (event.has_point()) ++points;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(states, (std::vector<v1::JobState>{v1::JOB_STATE_RUNNING, v1::JOB_STATE_SUCCEEDED}));
  grpc::ClientContext metrics_context;
  v1::GetMetricsRequest metrics_request;
  metrics_request.set_job_id(job.id());
  v1::GetMetricsResponse metrics;
  ASSERT_TRUE(stub_->GetMetrics(&metrics_context, metrics_request, &metrics).ok());
  EXPECT_EQ(points, metrics.points_size());
  EXPECT_GT(points, 2);

  // Watching a finished job: its final state and history, then the end.
  grpc::ClientContext again;
  auto replay = stub_->WatchJob(&again, request);
  int replayed = 0;
  ASSERT_TRUE(replay->Read(&event));
  EXPECT_EQ(event.job().state(), v1::JOB_STATE_SUCCEEDED);
  while (replay->Read(&event)) replayed += event.has_point();
  EXPECT_TRUE(replay->Finish().ok());
  EXPECT_EQ(replayed, points);

  grpc::ClientContext unknown;
  request.set_id("job-unknown");
  auto missing = stub_->WatchJob(&unknown, request);
  EXPECT_FALSE(missing->Read(&event));
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, SweepRunsEveryLossAndSeedAndCompareSummarizesThem) {
  StartCoordinator();
  StartWorker("w1");
  v1::SubmitSweepRequest request;
  *request.mutable_base() = Spec("sw");
  request.mutable_base()->clear_loss();
  request.add_losses()->mutable_cross_entropy();
  request.add_losses()->mutable_poly1()->set_epsilon(2);
  request.set_seeds(3);
  grpc::ClientContext context;
  v1::SubmitSweepResponse sweep;
  ASSERT_TRUE(stub_->SubmitSweep(&context, request, &sweep).ok());
  ASSERT_EQ(sweep.jobs_size(), 6);
  EXPECT_EQ(sweep.jobs(0).spec().name(), "sw-ce-s2");
  EXPECT_EQ(sweep.jobs(4).spec().name(), "sw-poly1-e-2-s3");
  EXPECT_EQ(sweep.jobs(4).spec().labels().at("sweep"), sweep.sweep_id());
  std::map<std::string, std::vector<double>> accuracy;
  for (const Job& job : sweep.jobs()) {
    ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
    accuracy[job.loss_name()].push_back(Get(job.id()).final_metrics().at("eval_accuracy"));
  }

  grpc::ClientContext compare_context;
  v1::CompareJobsRequest compare;
  compare.set_sweep_id(sweep.sweep_id());
  v1::CompareJobsResponse table;
  ASSERT_TRUE(stub_->CompareJobs(&compare_context, compare, &table).ok());
  EXPECT_EQ(table.metric(), "eval_accuracy");
  EXPECT_EQ(table.baseline_loss(), "ce");
  ASSERT_EQ(table.jobs_size(), 6);
  ASSERT_EQ(table.losses_size(), 2);
  ASSERT_EQ(table.curves_size(), 6);
  EXPECT_EQ(table.curves(0).eval_steps_size(), 2);
  for (const auto& row : table.losses()) {
    const std::vector<double>& v = accuracy[row.loss_name()];
    ASSERT_EQ(row.runs(), 3) << row.loss_name();
    const double mean = (v[0] + v[1] + v[2]) / 3;
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    EXPECT_NEAR(row.mean(), mean, 1e-12);
    EXPECT_NEAR(row.std(), std::sqrt(ss / 2), 1e-12);
    // t(0.975, 2) = 4.302652729911275.
    EXPECT_NEAR(row.ci95_high() - row.mean(),
                4.302652729911275 * std::sqrt(ss / 2) / std::sqrt(3.0), 1e-9);
    EXPECT_EQ(row.baseline(), row.loss_name() == "ce");
    if (row.baseline()) {
      EXPECT_TRUE(std::isnan(row.p_value()));
    } else {
      EXPECT_TRUE(row.p_value() >= 0 && row.p_value() <= 1) << row.p_value();
    }
  }

  grpc::ClientContext bad_context;
  compare.set_baseline_loss("focal(g=9)");
  const grpc::Status bad = stub_->CompareJobs(&bad_context, compare, &table);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(),
            "baseline_loss: no job has loss 'focal(g=9)' (losses: ce, poly1(e=2))");
  grpc::ClientContext too_many;
  request.set_seeds(101);
  EXPECT_EQ(stub_->SubmitSweep(&too_many, request, &sweep).error_message(),
            "seeds: must be in [0, 100], got 101");
}

TEST_F(ServiceTest, TheFinalCheckpointIsUploadedToTheArtifactStore) {
  StartCoordinator();
  StartWorker("w1", nullptr, /*checkpoints=*/true);
  Job job;
  ASSERT_TRUE(Submit(Spec("kept"), &job).ok());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  const std::string name = "ckpt-000000000080.pt";
  EXPECT_EQ(Get(job.id()).checkpoint(), job.id() + "/" + name);
  auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_GT(read(dir_ / "artifacts" / job.id() / name).size(), 1000u);
  // Once stored, the worker's own copies of the finished job's checkpoints go: its
  // --checkpoint_dir does not grow with every job it runs.
  EXPECT_FALSE(fs::exists(dir_ / "w1-checkpoints" / job.id()));
}

TEST_F(ServiceTest, InvalidRequestsAreRefusedWithTheFieldPath) {
  StartCoordinator();
  v1::JobSpec spec = Spec("bad");
  spec.mutable_loss()->mutable_poly_n()->add_epsilons(1);
  spec.mutable_loss()->mutable_poly_n()->add_epsilons(-0.75);
  Job job;
  const grpc::Status status = Submit(spec, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "spec.loss.poly_n.epsilons[1]: must be >= -1/2, got -0.75");
  EXPECT_EQ(List(v1::ListJobsRequest()).jobs_size(), 0);  // nothing stored

  grpc::ClientContext context;
  v1::GetJobRequest get;
  get.set_id("job-doesnotexist");
  EXPECT_EQ(stub_->GetJob(&context, get, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext list_context;
  v1::ListJobsRequest list;
  list.set_page_size(1001);
  v1::ListJobsResponse response;
  const grpc::Status list_status = stub_->ListJobs(&list_context, list, &response);
  EXPECT_EQ(list_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(list_status.error_message(), "page_size: must be in [0, 1000], got 1001");
}

TEST_F(ServiceTest, SubmitIsIdempotentAndListFiltersByLabel) {
  StartCoordinator();
  Job first, retry, other;
  ASSERT_TRUE(Submit(Spec("a"), &first, "request-1").ok());
  ASSERT_TRUE(Submit(Spec("a"), &retry, "request-1").ok());
  EXPECT_EQ(retry.id(), first.id());
  v1::JobSpec unlabelled = Spec("b");
  unlabelled.mutable_labels()->clear();
  ASSERT_TRUE(Submit(unlabelled, &other).ok());
  v1::ListJobsRequest request;
  (*request.mutable_labels())["suite"] = "service-test";
  const v1::ListJobsResponse labelled = List(request);
  ASSERT_EQ(labelled.jobs_size(), 1);
  EXPECT_EQ(labelled.jobs(0).id(), first.id());
  EXPECT_EQ(List(v1::ListJobsRequest()).jobs_size(), 2);
}

TEST_F(ServiceTest, TwoWorkersDrainAQueue) {
  StartCoordinator();
  StartWorker("w1");
  StartWorker("w2");
  // Both connected before any job exists, so the first two jobs go one to each.
  ASSERT_TRUE(WaitFor([&] { return Scrape("polytrain_workers_connected") == 2; }, 30));
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    Job job;
    ASSERT_TRUE(Submit(Spec("q" + std::to_string(i), 4), &job).ok());
    ids.push_back(job.id());
  }
  std::set<std::string> workers;
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitForState(id, v1::JOB_STATE_SUCCEEDED)) << id;
    workers.insert(Get(id).worker());
  }
  EXPECT_EQ(workers, (std::set<std::string>{"w1", "w2"}));
}

TEST_F(ServiceTest, CancelQueuedAndRunningJobs) {
  StartCoordinator();
  Job queued;
  ASSERT_TRUE(Submit(Spec("never-runs"), &queued).ok());
  grpc::ClientContext context;
  v1::CancelJobRequest cancel;
  cancel.set_id(queued.id());
  Job after;
  ASSERT_TRUE(stub_->CancelJob(&context, cancel, &after).ok());
  EXPECT_EQ(after.state(), v1::JOB_STATE_CANCELLED);

  StartWorker("w1");
  Job running;
  ASSERT_TRUE(Submit(Spec("long", 5000), &running).ok());
  ASSERT_TRUE(WaitForState(running.id(), v1::JOB_STATE_RUNNING));
  ASSERT_TRUE(WaitFor([&] { return !Metrics(running.id()).empty(); }));
  grpc::ClientContext cancel_context;
  cancel.set_id(running.id());
  ASSERT_TRUE(stub_->CancelJob(&cancel_context, cancel, &after).ok());
  ASSERT_TRUE(WaitForState(running.id(), v1::JOB_STATE_CANCELLED, 30));
  EXPECT_EQ(Get(running.id()).error(), "cancelled while running");
  // Job.steps says how far it trained: the steps it took, at least the newest one it reported.
  EXPECT_GE(Get(running.id()).steps(), Metrics(running.id()).back().step());
  EXPECT_GT(Get(running.id()).steps(), 0);

  grpc::ClientContext again;
  const grpc::Status twice = stub_->CancelJob(&again, cancel, &after);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace polytrain
