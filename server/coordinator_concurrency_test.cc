// The coordinator used from many threads at once, as the gRPC services use it: clients submit,
// read, watch and cancel while workers connect, heartbeat, report metrics, finish, fail, drop
// their stream and reconnect or fall silent; the lease thread requeues what lapses and drops the
// series of ended jobs while Prometheus scrapes them. The checks at the end are the rules every
// interleaving must keep (each job ends, within its attempts, watchers hear the end); the point
// of the test is as much to run it under ThreadSanitizer (scripts/test-tsan.sh).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/job_spec_defaults.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/coordinator_core.h"
#include "server/coordinator_metrics.h"

namespace polytrain {
namespace {

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::Job;
using polytrain::v1::WorkerMessage;

// What the coordinator sent to one worker, taken by the worker's thread.
class QueueChannel : public WorkerChannel {
 public:
  void Send(const CoordinatorMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(message);
  }
  std::vector<CoordinatorMessage> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<CoordinatorMessage> taken;
    taken.swap(messages_);
    return taken;
  }

 private:
  std::mutex mu_;
  std::vector<CoordinatorMessage> messages_;
};

class CountingWatcher : public JobWatcher {
 public:
  void OnEvent(const polytrain::v1::JobEvent& event) override {
    events_.fetch_add(1);
    if (event.has_job() && ended_.load()) event_after_end_.store(true);
    if (event.has_job() && IsFinalState(event.job().state())) saw_final_.store(true);
  }
  void OnEnd() override {
    if (ended_.exchange(true)) event_after_end_.store(true);
  }
  int events() const { return events_.load(); }
  bool ended() const { return ended_.load(); }
  bool event_after_end() const { return event_after_end_.load(); }
  // The job had ended when the watch started, or the watcher saw it end.
  bool saw_final() const { return saw_final_.load(); }
  void set_started_final(bool final) {
    if (final) saw_final_.store(true);
  }

 private:
  std::atomic<int> events_{0};
  std::atomic<bool> ended_{false};
  std::atomic<bool> event_after_end_{false};
  std::atomic<bool> saw_final_{false};
};

bool IsFinal(polytrain::v1::JobState state) {
  return state == polytrain::v1::JOB_STATE_SUCCEEDED || state == polytrain::v1::JOB_STATE_FAILED ||
         state == polytrain::v1::JOB_STATE_CANCELLED;
}

class CoordinatorConcurrencyTest : public ::testing::Test {
 protected:
  static constexpr int kClients = 3;
  static constexpr int kJobsPerClient = 20;
  static constexpr int kWorkers = 4;  // worker 0 never heartbeats: its leases lapse

  void SetUp() override {
    path_ =
        ::testing::TempDir() + "/coordinator_concurrency_test_" + std::to_string(getpid()) + ".db";
    RemoveDb();
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<CoordinatorMetrics>(*registry_, std::chrono::milliseconds(0));
    Scheduler::Options options;
    options.lease_seconds = 0.3;  // the lease thread looks every 200 ms
    options.heartbeat_seconds = 0.1;
    options.lease_thread = true;
    options.metrics = metrics_.get();
    absl::StatusOr<std::unique_ptr<CoordinatorCore>> core = CoordinatorCore::Open(path_, options);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
    api_ = &core_->client_api();
    protocol_ = &core_->worker_protocol();
  }
  void TearDown() override {
    core_.reset();  // before the channels and watchers it may still hold
    channels_.clear();
    watchers_.clear();
    RemoveDb();
  }
  void RemoveDb() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  static polytrain::v1::SubmitJobRequest Request(const std::string& name, int priority) {
    polytrain::v1::SubmitJobRequest request;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(spec {
             model { mlp {} }
             dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
             loss { poly1 { epsilon: 1 } }
             optimizer { sgd {} learning_rate: 0.1 }
             epochs: 1
             batch_size: 2
             max_attempts: 3
           })",
        &request));
    request.mutable_spec()->set_name(name);
    request.mutable_spec()->set_priority(priority);
    return request;
  }

  QueueChannel* NewChannel() {
    std::lock_guard<std::mutex> lock(mu_);
    channels_.push_back(std::make_unique<QueueChannel>());
    return channels_.back().get();
  }
  CountingWatcher* NewWatcher() {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.push_back(std::make_unique<CountingWatcher>());
    return watchers_.back().get();
  }
  std::vector<std::string> JobIds() {
    std::lock_guard<std::mutex> lock(mu_);
    return job_ids_;
  }

  // Submits, and reads back what it and the others submitted.
  void Client(int client) {
    std::mt19937 random(client);
    for (int i = 0; i < kJobsPerClient; ++i) {
      const std::string name = "c" + std::to_string(client) + "-" + std::to_string(i);
      absl::StatusOr<Job> job = api_->SubmitJob(Request(name, i % 3), kAdmin);
      ASSERT_TRUE(job.ok()) << job.status();
      {
        std::lock_guard<std::mutex> lock(mu_);
        job_ids_.push_back(job->id());
      }
      const std::vector<std::string> ids = JobIds();
      polytrain::v1::GetJobRequest get;
      get.set_id(ids[random() % ids.size()]);
      EXPECT_TRUE(api_->GetJob(get, kAdmin).ok());
      polytrain::v1::GetMetricsRequest metrics;
      metrics.set_job_id(get.id());
      metrics.set_max_points(1 + random() % 3);
      EXPECT_TRUE(api_->GetMetrics(metrics, kAdmin).ok());
      polytrain::v1::ListJobsRequest list;
      if (i % 2 == 0) list.add_states(polytrain::v1::JOB_STATE_RUNNING);
      EXPECT_TRUE(api_->ListJobs(list, kAdmin).ok());
      metrics_->Rpc("SubmitJob", 0, 0.001);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // Cancels some jobs (whatever state they are in), watches others, stops watching half.
  void Operator() {
    std::mt19937 random(99);
    std::vector<std::pair<std::string, CountingWatcher*>> watching;
    while (!stop_.load()) {
      const std::vector<std::string> ids = JobIds();
      if (!ids.empty()) {
        const std::string& id = ids[random() % ids.size()];
        if (random() % 4 == 0) {
          polytrain::v1::CancelJobRequest cancel;
          cancel.set_id(id);
          (void)api_->CancelJob(cancel, kAdmin);  // FAILED_PRECONDITION once it ended
        } else {
          CountingWatcher* watcher = NewWatcher();
          polytrain::v1::WatchJobRequest watch;
          watch.set_id(id);
          absl::StatusOr<WatchStart> start = api_->Watch(watch, watcher, kAdmin);
          ASSERT_TRUE(start.ok()) << start.status();
          watcher->set_started_final(IsFinalState(start->job.state()));
          if (random() % 2 == 0) {
            watching.emplace_back(id, watcher);
          } else {
            std::lock_guard<std::mutex> lock(mu_);
            kept_watchers_.push_back(watcher);
          }
        }
      }
      if (watching.size() > 3) {
        api_->Unwatch(watching.front().first, watching.front().second);
        watching.erase(watching.begin());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (const auto& [id, watcher] : watching) api_->Unwatch(id, watcher);
  }

  // A worker: runs what it is assigned for a few rounds, then finishes or fails it; now and
  // then its stream drops and it reconnects with what it still runs. `silent`: no heartbeats,
  // metrics or results, so every lease it holds lapses.
  void Worker(int index, bool silent) {
    std::mt19937 random(1000 + index);
    const std::string name = "w" + std::to_string(index);
    std::map<std::string, int32_t> running;  // job id -> attempt
    std::map<std::string, int> rounds;
    const auto connect = [&]() -> int64_t {
      polytrain::v1::Hello hello;
      hello.set_name(name);
      hello.set_slots(2);
      hello.add_devices("cpu");
      for (const auto& [id, attempt] : running) hello.add_running_job_ids(id);
      QueueChannel* channel = NewChannel();
      absl::StatusOr<int64_t> session = protocol_->Connected(hello, channel);
      EXPECT_TRUE(session.ok()) << session.status();
      channel_of_[index] = channel;
      return session.ok() ? *session : -1;
    };
    int64_t session = connect();
    while (!stop_.load()) {
      for (const CoordinatorMessage& message : channel_of_[index]->Take()) {
        if (message.has_assignment()) {
          running[message.assignment().job().id()] = message.assignment().job().attempts();
        } else if (message.has_cancel()) {
          const auto it = running.find(message.cancel().job_id());
          if (it == running.end()) continue;
          WorkerMessage stopped;
          stopped.mutable_failed()->set_job_id(it->first);
          stopped.mutable_failed()->set_attempt(it->second);
          stopped.mutable_failed()->set_cancelled(true);
          if (!silent) (void)protocol_->Handle(session, stopped);
          running.erase(it);
        }
      }
      if (!silent) {
        WorkerMessage beat;
        beat.mutable_heartbeat();
        for (const auto& [id, attempt] : running) beat.mutable_heartbeat()->add_running_job_ids(id);
        (void)protocol_->Handle(session, beat);
        for (auto it = running.begin(); it != running.end();) {
          const int round = ++rounds[it->first];
          WorkerMessage message;
          if (round < 3) {
            auto* batch = message.mutable_metrics();
            batch->set_job_id(it->first);
            batch->set_attempt(it->second);
            auto* point = batch->add_points();
            point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
            point->set_step(round);
            (*point->mutable_values())["loss"] = 1.0 / round;
            (*point->mutable_values())["samples_per_second"] = 100;
          } else if (random() % 5 == 0) {
            message.mutable_failed()->set_job_id(it->first);
            message.mutable_failed()->set_attempt(it->second);
            message.mutable_failed()->set_error("diverged");
          } else {
            message.mutable_finished()->set_job_id(it->first);
            message.mutable_finished()->set_attempt(it->second);
            message.mutable_finished()->set_steps(round);
            (*message.mutable_finished()->mutable_final_metrics())["eval_loss"] = 0.5;
          }
          (void)protocol_->Handle(session, message);
          it = round < 3 ? std::next(it) : running.erase(it);
        }
        if (random() % 40 == 0) {  // the stream drops; the worker dials again
          protocol_->Disconnected(session);
          session = connect();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    protocol_->Disconnected(session);
  }

  // What a Prometheus scrape does, concurrently with everything else.
  void Scraper() {
    while (!stop_.load()) {
      EXPECT_FALSE(registry_->Collect().empty());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::string path_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  const Caller kAdmin = Caller::Admin("");
  std::unique_ptr<CoordinatorCore> core_;
  ClientApi* api_ = nullptr;
  WorkerProtocol* protocol_ = nullptr;
  std::atomic<bool> stop_{false};
  QueueChannel* channel_of_[kWorkers] = {};  // each written and read by its worker's thread

  std::mutex mu_;
  std::vector<std::string> job_ids_;
  std::vector<std::unique_ptr<QueueChannel>> channels_;     // kept until the coordinator is gone
  std::vector<std::unique_ptr<CountingWatcher>> watchers_;  // likewise
  std::vector<CountingWatcher*> kept_watchers_;             // never unwatched
};

TEST_F(CoordinatorConcurrencyTest, EveryJobEndsWhateverTheInterleaving) {
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) workers.emplace_back([this, w] { Worker(w, w == 0); });
  std::thread operator_thread([this] { Operator(); });
  std::thread scraper([this] { Scraper(); });
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back([this, c] { Client(c); });
  for (std::thread& t : clients) t.join();

  // Every job ends: lapsed leases requeue onto the live workers, up to max_attempts.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::string> open;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    open.clear();
    for (const std::string& id : JobIds()) {
      polytrain::v1::GetJobRequest get;
      get.set_id(id);
      absl::StatusOr<Job> job = api_->GetJob(get, kAdmin);
      ASSERT_TRUE(job.ok()) << job.status();
      if (!IsFinal(job->state())) open.push_back(id);
    }
  } while (!open.empty() && std::chrono::steady_clock::now() < deadline);
  stop_.store(true);
  for (std::thread& t : workers) t.join();
  operator_thread.join();
  scraper.join();
  EXPECT_TRUE(open.empty()) << open.size() << " jobs never ended, e.g. " << open.front();

  const std::vector<std::string> ids = JobIds();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kClients * kJobsPerClient));
  std::map<polytrain::v1::JobState, int> by_state;
  for (const std::string& id : ids) {
    polytrain::v1::GetJobRequest get;
    get.set_id(id);
    const Job job = *api_->GetJob(get, kAdmin);
    ++by_state[job.state()];
    EXPECT_LE(job.attempts(), MaxAttempts(job.spec())) << job.DebugString();
  }
  EXPECT_GT(by_state[polytrain::v1::JOB_STATE_SUCCEEDED], 0);
  std::lock_guard<std::mutex> lock(mu_);
  for (const CountingWatcher* watcher : kept_watchers_) {
    EXPECT_TRUE(watcher->ended());
    EXPECT_TRUE(watcher->saw_final());  // the job's final state, live or at the start
    EXPECT_FALSE(watcher->event_after_end());
  }
}

}  // namespace
}  // namespace polytrain
