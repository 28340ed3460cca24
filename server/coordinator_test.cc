// The scheduling and lease rules, in process and deterministic: a real SQLite file, workers
// stood in for by channels that record what the coordinator sends, and lease expiry driven by
// explicit times instead of waiting.
#include "server/coordinator.h"

#include <filesystem>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/sqlite_job_store.h"

namespace polytrain {
namespace {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::Job;

class RecordingChannel : public WorkerChannel {
 public:
  void Send(const CoordinatorMessage& message) override { sent.push_back(message); }
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
  std::vector<CoordinatorMessage> sent;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/coordinator_test_" + std::to_string(getpid()) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    Coordinator::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    coordinator_ = *Coordinator::Create(*SqliteJobStore::Open(path_), options);
  }
  void TearDown() override {
    coordinator_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  Job Submit(const std::string& name, int priority = 0,
             polytrain::v1::Device device = polytrain::v1::DEVICE_CPU, int max_attempts = 0) {
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
    request.mutable_spec()->set_priority(priority);
    request.mutable_spec()->set_device(device);
    request.mutable_spec()->set_max_attempts(max_attempts);
    absl::StatusOr<Job> job = coordinator_->SubmitJob(request);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  int64_t Connect(const std::string& name, RecordingChannel* channel, int slots = 1,
                  bool cuda = false, std::vector<std::string> running = {}) {
    polytrain::v1::Hello hello;
    hello.set_name(name);
    hello.set_slots(slots);
    hello.add_devices("cpu");
    if (cuda) hello.add_devices("cuda");
    for (const auto& id : running) hello.add_running_job_ids(id);
    absl::StatusOr<int64_t> session = coordinator_->WorkerConnected(hello, channel);
    EXPECT_TRUE(session.ok()) << session.status();
    return *session;
  }

  polytrain::v1::JobState State(const std::string& id) {
    polytrain::v1::GetJobRequest request;
    request.set_id(id);
    return coordinator_->GetJob(request)->state();
  }
  Job Get(const std::string& id) {
    polytrain::v1::GetJobRequest request;
    request.set_id(id);
    return *coordinator_->GetJob(request);
  }
  void Finish(int64_t session, const Job& job) {
    polytrain::v1::WorkerMessage message;
    message.mutable_finished()->set_job_id(job.id());
    message.mutable_finished()->set_attempt(Get(job.id()).attempts());
    ASSERT_TRUE(coordinator_->HandleWorkerMessage(session, message).ok());
  }
  // Far enough past every lease.
  Coordinator::Clock::time_point Later() {
    return Coordinator::Clock::now() + std::chrono::seconds(11);
  }

  std::string path_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, HigherPriorityFirstThenFifo) {
  Submit("low-1");
  Submit("high", 5);
  Submit("low-2");
  Submit("mid", 1);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel, /*slots=*/1);
  ASSERT_EQ(channel.Assigned(), (std::vector<std::string>{"high"}));
  for (const char* next : {"mid", "low-1", "low-2"}) {
    polytrain::v1::ListJobsRequest running;
    running.add_states(polytrain::v1::JOB_STATE_RUNNING);
    Finish(session, coordinator_->ListJobs(running)->jobs(0));
    EXPECT_EQ(channel.Assigned().back(), next);
  }
}

TEST_F(CoordinatorTest, CudaJobsWaitForAGpuWorkerAndSlotsAreRespected) {
  const Job gpu = Submit("gpu", 0, polytrain::v1::DEVICE_CUDA);
  Submit("cpu-1");
  Submit("cpu-2");
  Submit("cpu-3");
  RecordingChannel cpu_worker, gpu_worker;
  Connect("cpu-only", &cpu_worker, /*slots=*/2);
  EXPECT_EQ(cpu_worker.Assigned(), (std::vector<std::string>{"cpu-1", "cpu-2"}));
  EXPECT_EQ(State(gpu.id()), polytrain::v1::JOB_STATE_QUEUED);
  Connect("gpu", &gpu_worker, /*slots=*/2, /*cuda=*/true);
  EXPECT_EQ(gpu_worker.Assigned(), (std::vector<std::string>{"gpu", "cpu-3"}));
}

TEST_F(CoordinatorTest, LapsedLeasesRequeueUntilMaxAttemptsThenFail) {
  const Job job = Submit("flaky", 0, polytrain::v1::DEVICE_CPU, /*max_attempts=*/2);
  RecordingChannel first;
  const int64_t session = Connect("w1", &first);
  coordinator_->WorkerDisconnected(session);
  coordinator_->ExpireLeases(Coordinator::Clock::now());  // not yet
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  coordinator_->ExpireLeases(Later());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker w1 (attempt 1)");

  RecordingChannel second;
  Connect("w2", &second);
  EXPECT_EQ(Get(job.id()).attempts(), 2);
  coordinator_->ExpireLeases(Later());  // w2 alive but silent about it: taken back
  EXPECT_EQ(second.Cancelled(), (std::vector<std::string>{job.id()}));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_FAILED);
  EXPECT_EQ(Get(job.id()).error(), "lease expired on worker w2 (attempt 2); no attempts left of 2");
}

TEST_F(CoordinatorTest, MessagesFromAStaleAttemptAreIgnored) {
  const Job job = Submit("steady");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage stale;
  stale.mutable_finished()->set_job_id(job.id());
  stale.mutable_finished()->set_attempt(7);
  ASSERT_TRUE(coordinator_->HandleWorkerMessage(session, stale).ok());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
}

TEST_F(CoordinatorTest, CancellationWinsOverARequeue) {
  const Job job = Submit("doomed");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  ASSERT_TRUE(coordinator_->CancelJob(cancel).ok());
  EXPECT_EQ(channel.Cancelled(), (std::vector<std::string>{job.id()}));
  coordinator_->WorkerDisconnected(session);  // the worker dies before confirming
  coordinator_->ExpireLeases(Later());
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_CANCELLED);
}

TEST_F(CoordinatorTest, AReconnectingWorkerReattachesItsRunningJob) {
  const Job job = Submit("survives-a-blip");
  RecordingChannel before, after;
  const int64_t first = Connect("w", &before);
  coordinator_->WorkerDisconnected(first);
  const int64_t second = Connect("w", &after, 1, false, {job.id()});
  coordinator_->ExpireLeases(Coordinator::Clock::now() + std::chrono::seconds(9));
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_TRUE(after.Assigned().empty());  // not assigned again
  Finish(second, job);
  EXPECT_EQ(State(job.id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(job.id()).attempts(), 1);
}

TEST_F(CoordinatorTest, BadHellosAreRefused) {
  RecordingChannel channel;
  polytrain::v1::Hello hello;
  EXPECT_EQ(coordinator_->WorkerConnected(hello, &channel).status().message(),
            "hello.name: length must be in [1, 128] characters, got 0");
  hello.set_name("w");
  hello.set_slots(65);
  EXPECT_EQ(coordinator_->WorkerConnected(hello, &channel).status().message(),
            "hello.slots: must be in [0, 64], got 65");
  hello.set_slots(1);
  ASSERT_TRUE(coordinator_->WorkerConnected(hello, &channel).ok());
  EXPECT_EQ(coordinator_->WorkerConnected(hello, &channel).status().code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace polytrain
