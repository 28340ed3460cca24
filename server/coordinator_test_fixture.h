// The fixture of the coordinator's in-process tests: a real SQLite file, workers stood in for by
// channels that record what the scheduler sends, and lease expiry driven by explicit times.
#ifndef POLYTRAIN_SERVER_COORDINATOR_TEST_FIXTURE_H_
#define POLYTRAIN_SERVER_COORDINATOR_TEST_FIXTURE_H_

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/coordinator_core.h"

namespace polytrain {

class RecordingChannel : public WorkerChannel {
 public:
  void Send(const polytrain::v1::CoordinatorMessage& message) override { sent.push_back(message); }
  void Close(const absl::Status& status) override { closed = status; }
  std::vector<std::string> Assigned() const {
    std::vector<std::string> names;
    for (const auto& m : sent) {
      if (m.has_assignment()) names.push_back(m.assignment().job().spec().name());
    }
    return names;
  }
  std::vector<std::string> Cancelled() const {
    std::vector<std::string> ids;
    for (const auto& m : sent) {
      if (m.has_cancel()) ids.push_back(m.cancel().job_id());
    }
    return ids;
  }
  // Welcome.session_key of the newest session on this channel ("" before one).
  std::string SessionKey() const {
    std::string key;
    for (const auto& m : sent) {
      if (m.has_welcome()) key = m.welcome().session_key();
    }
    return key;
  }
  std::vector<polytrain::v1::CoordinatorMessage> sent;
  absl::Status closed;  // what Close ended the stream with (OK: not closed)
};

// Adds a training point at `step` to a worker's metrics message.
inline void AddTrainPoint(polytrain::v1::MetricBatch* batch, int64_t step) {
  polytrain::v1::MetricPoint* point = batch->add_points();
  point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point->set_step(step);
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/coordinator_test_" + std::to_string(getpid()) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    Open(options);
  }
  void Open(const Scheduler::Options& options, const ClientPolicy& policy = {},
            const std::optional<CoordinatorCore::Artifacts>& artifacts = std::nullopt) {
    core_.reset();
    core_ = *CoordinatorCore::Open(path_, options, artifacts, policy);
    scheduler_ = &core_->scheduler();
    api_ = &core_->client_api();
    protocol_ = &core_->worker_protocol();
  }
  // Starts the core again on the same store with `policy` for client tokens (no lease thread).
  void OpenWithPolicy(const ClientPolicy& policy) {
    Scheduler::Options options;
    options.lease_thread = false;
    Open(options, policy);
  }
  // Starts the core again on the same store, exporting to `metrics` (no lease thread).
  void ReopenWithMetrics(CoordinatorMetrics* metrics) {
    Scheduler::Options options;
    options.lease_thread = false;
    options.metrics = metrics;
    core_.reset();
    Open(options);
  }
  void TearDown() override {
    core_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  // Cancels the job as the admin (CancelJob), which must accept it.
  void CancelAsAdmin(const std::string& id) {
    polytrain::v1::CancelJobRequest cancel;
    cancel.set_id(id);
    ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  }

  polytrain::v1::Job Submit(const std::string& name, int priority = 0,
                            polytrain::v1::Device device = polytrain::v1::DEVICE_CPU,
                            int max_attempts = 0, const Caller& caller = Caller::Admin(""),
                            const std::string& request_id = "") {
    polytrain::v1::SubmitJobRequest request = Request(name);
    request.mutable_spec()->set_priority(priority);
    request.mutable_spec()->set_device(device);
    request.mutable_spec()->set_max_attempts(max_attempts);
    request.set_client_request_id(request_id);
    absl::StatusOr<polytrain::v1::Job> job = api_->SubmitJob(request, caller);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  // A successive-halving search of three poly1 losses over 3 epochs, rungs from 1 epoch.
  static polytrain::v1::SubmitSweepRequest SmallHalvingSearch() {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request("search").spec();
    request.mutable_base()->clear_loss();
    request.mutable_base()->set_epochs(3);
    for (int e = 0; e < 3; ++e) request.add_losses()->mutable_poly1()->set_epsilon(e);
    request.mutable_search()->set_strategy(polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING);
    request.mutable_search()->set_min_resource(1);
    return request;
  }

  static polytrain::v1::SubmitJobRequest Request(const std::string& name) {
    polytrain::v1::SubmitJobRequest request;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(spec {
             model { mlp {} }
             dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
             loss { cross_entropy {} }
             optimizer { sgd {} learning_rate: 0.1 }
             epochs: 1
             batch_size: 2
           })",
        &request));
    request.mutable_spec()->set_name(name);
    return request;
  }

  // A search of `trials` trials over poly1.epsilon in [0, 5], on Request(name)'s spec.
  static polytrain::v1::SubmitSweepRequest SearchRequest(
      const std::string& name, polytrain::v1::LossSearch::Strategy strategy, int trials) {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request(name).spec();
    request.mutable_base()->clear_loss();
    polytrain::v1::LossSearch* search = request.mutable_search();
    search->set_strategy(strategy);
    search->mutable_loss()->mutable_poly1();
    polytrain::v1::ParameterRange* range = search->add_ranges();
    range->set_field("poly1.epsilon");
    range->set_min(0);
    range->set_max(5);
    search->set_trials(trials);
    return request;
  }

  // Connects as a real worker process named `name` does: naming the key of its previous
  // session (this fixture's last Connect under that name), which proves its claims. `threads`
  // 0: the hello says none (no bound on a job's spec.threads).
  int64_t Connect(const std::string& name, RecordingChannel* channel, int slots = 1,
                  bool cuda = false, std::vector<std::string> running = {}, int threads = 0) {
    polytrain::v1::Hello hello;
    hello.set_name(name);
    hello.set_slots(slots);
    hello.set_threads(threads);
    hello.add_devices("cpu");
    if (cuda) hello.add_devices("cuda");
    for (const auto& id : running) hello.add_running_job_ids(id);
    hello.set_previous_session_key(session_keys_[name]);
    absl::StatusOr<int64_t> session = protocol_->Connected(hello, channel);
    EXPECT_TRUE(session.ok()) << session.status();
    session_keys_[name] = channel->SessionKey();
    return *session;
  }

  polytrain::v1::JobState State(const std::string& id) {
    polytrain::v1::GetJobRequest request;
    request.set_id(id);
    return api_->GetJob(request, kAdmin)->state();
  }
  polytrain::v1::Job Get(const std::string& id) {
    polytrain::v1::GetJobRequest request;
    request.set_id(id);
    return *api_->GetJob(request, kAdmin);
  }
  // `steps`: where the attempt ended (Job.steps is the larger of it and its newest point's).
  void Finish(int64_t session, const polytrain::v1::Job& job,
              const std::map<std::string, double>& metrics = {}, int64_t steps = 0) {
    polytrain::v1::WorkerMessage message;
    message.mutable_finished()->set_job_id(job.id());
    message.mutable_finished()->set_steps(steps);
    message.mutable_finished()->set_attempt(Get(job.id()).attempts());
    message.mutable_finished()->mutable_final_metrics()->insert(metrics.begin(), metrics.end());
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }
  // Runs `action` while another connection holds the database's write lock (as a backup or an
  // operator's sqlite3 shell would): every write it tries waits out SQLite's busy timeout and
  // fails.
  void WhileTheStoreIsLocked(const std::function<void()>& action) {
    sqlite3* locker = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &locker), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    action();
    EXPECT_EQ(sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(locker);
  }
  // Far enough past every lease.
  Scheduler::Clock::time_point Later() {
    return Scheduler::Clock::now() + std::chrono::seconds(11);
  }

  const Caller kAdmin = Caller::Admin("");
  std::map<std::string, std::string> session_keys_;  // by worker name, as Connect left them
  std::string path_;
  std::unique_ptr<CoordinatorCore> core_;
  Scheduler* scheduler_ = nullptr;
  ClientApi* api_ = nullptr;
  WorkerProtocol* protocol_ = nullptr;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_TEST_FIXTURE_H_
