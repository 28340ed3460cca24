// The fixture of the end-to-end service tests: a real polytrain-coordinator and real
// polytrain-workers as separate processes on 127.0.0.1 ports chosen at run time, a real SQLite
// file, gRPC over loopback; and the small tiny-job spec they train.
#ifndef POLYTRAIN_TESTING_SERVICE_FIXTURE_H_
#define POLYTRAIN_TESTING_SERVICE_FIXTURE_H_

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "testing/http_get.h"
#include "testing/process.h"
#include "testing/wait_for.h"

namespace polytrain::testing {

namespace fs = std::filesystem;
using polytrain::v1::Job;

inline v1::JobSpec Spec(const std::string& name, int epochs = 2) {
  v1::JobSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(
        model { mlp { hidden: [32] } }
        dataset { synthetic { classes: 4 features: 16 train_samples: 2000 test_samples: 500
                              separation: 3 seed: 1 } }
        loss { poly1 { epsilon: 1 } }
        optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
        batch_size: 50
        seed: 2
      )",
      &spec));
  spec.set_name(name);
  spec.set_epochs(epochs);
  (*spec.mutable_labels())["suite"] = "service-test";
  return spec;
}

class ServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("service_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    workers_.clear();
    coordinator_.reset();
    fs::remove_all(dir_);
  }

  void StartCoordinator(double lease_seconds = 30, const std::vector<std::string>& extra = {}) {
    const std::string port_file = (dir_ / "port").string();
    const std::string metrics_port_file = (dir_ / "metrics_port").string();
    fs::remove(port_file);
    fs::remove(metrics_port_file);
    std::vector<std::string> args{"--plaintext",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--db",
                                  (dir_ / "jobs.db").string(),
                                  "--lease_seconds",
                                  std::to_string(lease_seconds),
                                  "--port_file",
                                  port_file,
                                  "--metrics_listen",
                                  "127.0.0.1:0",
                                  "--metrics_port_file",
                                  metrics_port_file,
                                  "--artifacts",
                                  (dir_ / "artifacts").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    coordinator_ = std::make_unique<Process>(POLYTRAIN_COORDINATOR_BINARY, args, coordinator_log_);
    ASSERT_TRUE(coordinator_->started());
    ASSERT_TRUE(WaitFor(
        [&] {
          std::ifstream in(port_file);
          return static_cast<bool>(in >> port_) && port_ > 0;
        },
        20));
    std::ifstream(metrics_port_file) >> metrics_port_;
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                       grpc::InsecureChannelCredentials());
    ASSERT_TRUE(
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
    stub_ = v1::Coordinator::NewStub(channel);
  }

  // With `metrics_port`, the worker serves /metrics too and the port is returned there; with
  // `checkpoints`, it keeps checkpoints under dir_/<name>-checkpoints.
  // `via_port`: dial that port (a proxy in front of the coordinator) instead of the coordinator's.
  // `extra`: more flags.
  void StartWorker(const std::string& name, int* metrics_port = nullptr, bool checkpoints = false,
                   int via_port = 0, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "--coordinator", "127.0.0.1:" + std::to_string(via_port != 0 ? via_port : port_), "--name",
        name};
    args.insert(args.end(), extra.begin(), extra.end());
    if (checkpoints) {
      args.insert(args.end(), {"--checkpoint_dir", (dir_ / (name + "-checkpoints")).string()});
    }
    const std::string port_file = (dir_ / (name + ".metrics_port")).string();
    if (metrics_port != nullptr) {
      args.insert(args.end(),
                  {"--metrics_listen", "127.0.0.1:0", "--metrics_port_file", port_file});
    }
    workers_.push_back(std::make_unique<Process>(POLYTRAIN_WORKER_BINARY, args));
    ASSERT_TRUE(workers_.back()->started());
    if (metrics_port != nullptr) {
      ASSERT_TRUE(WaitFor(
          [&] { return static_cast<bool>(std::ifstream(port_file) >> *metrics_port); }, 20));
    }
  }

  grpc::Status Submit(const v1::JobSpec& spec, Job* job, const std::string& request_id = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    request.set_client_request_id(request_id);
    return stub_->SubmitJob(&context, request, job);
  }

  Job Get(const std::string& id) {
    grpc::ClientContext context;
    // A call made while the channel reconnects (a restarted coordinator, a connection it closed)
    // waits for it rather than failing at once.
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetJobRequest request;
    request.set_id(id);
    Job job;
    const grpc::Status status = stub_->GetJob(&context, request, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }

  bool WaitForState(const std::string& id, v1::JobState state, double seconds = 60) {
    return WaitFor([&] { return Get(id).state() == state; }, seconds);
  }

  v1::ListJobsResponse List(const v1::ListJobsRequest& request) {
    grpc::ClientContext context;
    v1::ListJobsResponse response;
    EXPECT_TRUE(stub_->ListJobs(&context, request, &response).ok());
    return response;
  }

  std::vector<v1::MetricPoint> Metrics(const std::string& id) {
    grpc::ClientContext context;
    v1::GetMetricsRequest request;
    request.set_job_id(id);
    v1::GetMetricsResponse response;
    EXPECT_TRUE(stub_->GetMetrics(&context, request, &response).ok());
    return {response.points().begin(), response.points().end()};
  }

  // The value of one series line of the coordinator's /metrics (or another process's, given
  // its metrics port), or -1 when absent.
  double Scrape(const std::string& series, int port = 0) {
    return SeriesValue(HttpGet(port != 0 ? port : metrics_port_, "/metrics"), series);
  }

  // testing::SeriesValue (http_get.h), for the tests that use the fixture.
  static double SeriesValue(const std::string& body, const std::string& series) {
    return testing::SeriesValue(body, series);
  }

  fs::path dir_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::string coordinator_log_;  // set before StartCoordinator: its output goes there
  std::vector<std::unique_ptr<Process>> workers_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_SERVICE_FIXTURE_H_
