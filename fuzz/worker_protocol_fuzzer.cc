// Fuzzes the coordinator's side of the worker stream (WorkerProtocol::Connected, Handle,
// Disconnected) together with what moves jobs between states underneath it (the Scheduler's
// lease expiry, the ClientApi's submissions and cancels, stored artifacts). Workers are remote
// processes, possibly buggy, stale or hostile: whatever they send in whatever order must be an
// error or a no-op for the coordinator, never a crash, a leak or undefined behaviour, and its
// bookkeeping must keep the rules checked below.
//
// Each input runs against a fresh CoordinatorCore (SQLite in memory, no lease thread, real
// Prometheus series) with two jobs already queued: "cpu" (max_attempts 2) and "gpu" (CUDA,
// priority 5). The input is a sequence of operations, each
//   op:u8  arg:u8  len:u16 (little-endian)  payload[len]      (len is cut to what is left)
// with op % 8:
//   0 connect: the payload is a binary Hello; a failed connect destroys its channel at once
//   1 message: the payload is a binary WorkerMessage, sent on session #arg (the arg-th session
//     opened; any larger arg is a session that never existed)
//   2 disconnect session #arg; its channel is destroyed, as the gRPC stream's would be, so a
//     later Send to it is a use after free that ASan reports
//   3 expire leases as seen `arg` seconds from now (a lease is 10 s), then drop the series of
//     jobs that ended
//   4 submit: the payload is a binary SubmitJobRequest (empty: the "cpu" job again), by the
//     caller arg % 3 (0 the admin, 1 and 2 two clients that own only their own jobs)
//   5 cancel job #(arg & 63) (modulo the jobs submitted) as the caller (arg >> 6) % 3; a client
//     that names another's job must be refused and change nothing
//   6 a file named by the payload arrives in the artifact store for job #arg (only names the
//     artifact store admits: the gRPC upload checks them before the coordinator hears of it)
//   7 read job #arg back: GetJob, GetMetrics, ListJobs
// A job id that is a single digit "0".."9" anywhere in a Hello or WorkerMessage stands for the
// job submitted in that position: real ids are random, so the fuzzer could not guess them.
//
// Rules checked (a violation traps): a worker's first message is a Welcome; an Assignment
// carries a RUNNING job within its max_attempts and never a CUDA job to a worker without "cuda";
// a job that reached a final state never changes state or runs again; a client's cancel of
// another's job is refused; reads of known jobs succeed.
//
// POLYTRAIN_FUZZ_VERBOSE=1 prints each operation and the jobs' states after it (for replaying a
// reproducer: build-asan/fuzz/worker_protocol_fuzzer FILE).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/job_spec_defaults.h"
#include "api/job_states.h"
#include "api/worker_messages.h"
#include "fuzz/fuzz_checks.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/text_format.h"
#include "prometheus/registry.h"
#include "server/coordinator_core.h"
#include "server/coordinator_metrics.h"

namespace polytrain {
namespace {

bool verbose = false;

using polytrain::v1::CoordinatorMessage;
using polytrain::v1::Job;
using polytrain::v1::JobState;

// Job ids that reached a final state, with that state.
using FinalStates = std::map<std::string, JobState>;

// One worker's stream, as the coordinator sees it: checks each message as it is sent (under
// the coordinator's lock, so it only reads its own state).
class CheckingChannel : public WorkerChannel {
 public:
  CheckingChannel(const polytrain::v1::Hello& hello, const FinalStates* final_states)
      : final_states_(final_states) {
    for (const std::string& device : hello.devices()) cuda_ = cuda_ || device == "cuda";
  }

  void Send(const CoordinatorMessage& message) override {
    POLYTRAIN_FUZZ_CHECK(message.kind_case() != CoordinatorMessage::KIND_NOT_SET, "empty message");
    POLYTRAIN_FUZZ_CHECK(sent_ > 0 || message.has_welcome(), message.DebugString());
    ++sent_;
    if (message.has_welcome()) {
      POLYTRAIN_FUZZ_CHECK(sent_ == 1, "a second welcome");
      POLYTRAIN_FUZZ_CHECK(
          message.welcome().heartbeat_seconds() > 0 &&
              message.welcome().heartbeat_seconds() < message.welcome().lease_seconds(),
          message.DebugString());
    }
    if (message.has_assignment()) {
      const Job& job = message.assignment().job();
      POLYTRAIN_FUZZ_CHECK(job.state() == polytrain::v1::JOB_STATE_RUNNING, job.DebugString());
      POLYTRAIN_FUZZ_CHECK(job.attempts() >= 1 && job.attempts() <= MaxAttempts(job.spec()),
                           job.DebugString());
      POLYTRAIN_FUZZ_CHECK(cuda_ || job.spec().device() != polytrain::v1::DEVICE_CUDA,
                           "a CUDA job for a worker without cuda");
      POLYTRAIN_FUZZ_CHECK(final_states_->count(job.id()) == 0,
                           "a job that ended runs again: " + job.DebugString());
    }
    if (message.has_cancel()) {
      POLYTRAIN_FUZZ_CHECK(!message.cancel().job_id().empty(), "cancel without a job id");
    }
  }

 private:
  const FinalStates* final_states_;
  bool cuda_ = false;
  int sent_ = 0;
};

constexpr char kTemplateJob[] = R"pb(
  spec {
    name: "cpu"
    model { mlp {} }
    dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
    loss { poly1 { epsilon: 1 } }
    optimizer {
      sgd {}
      learning_rate: 0.1
    }
    epochs: 1
    batch_size: 2
    max_attempts: 2
  }
)pb";

class Session {
 public:
  Session() {
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<CoordinatorMetrics>(*registry_, std::chrono::seconds(0));
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.heartbeat_seconds = 3;
    options.lease_thread = false;  // leases lapse only when the input says so
    options.metrics = metrics_.get();
    absl::StatusOr<std::unique_ptr<CoordinatorCore>> core =
        CoordinatorCore::Open(":memory:", options);
    POLYTRAIN_FUZZ_CHECK(core.ok(), core.status().ToString());
    core_ = *std::move(core);
    scheduler_ = &core_->scheduler();
    api_ = &core_->client_api();
    protocol_ = &core_->worker_protocol();

    POLYTRAIN_FUZZ_CHECK(google::protobuf::TextFormat::ParseFromString(kTemplateJob, &template_),
                         "template");
    Submit(template_);
    polytrain::v1::SubmitJobRequest gpu = template_;
    gpu.mutable_spec()->set_name("gpu");
    gpu.mutable_spec()->set_device(polytrain::v1::DEVICE_CUDA);
    gpu.mutable_spec()->set_priority(5);
    gpu.mutable_spec()->set_max_attempts(0);
    Submit(gpu);
    POLYTRAIN_FUZZ_CHECK(job_ids_.size() == 2, "the two starting jobs");
  }

  ~Session() {
    // The coordinator goes first: it may still hold channels of connected workers.
    core_.reset();
    channels_.clear();
  }

  void Run(const uint8_t* data, size_t size) {
    size_t pos = 0;
    while (pos + 4 <= size) {
      const uint8_t op = data[pos] % 8;
      const uint8_t arg = data[pos + 1];
      size_t len = data[pos + 2] | (static_cast<size_t>(data[pos + 3]) << 8);
      pos += 4;
      if (len > size - pos) len = size - pos;
      if (verbose) std::fprintf(stderr, "op %d arg %d len %zu\n", op, arg, len);
      Apply(op, arg, reinterpret_cast<const char*>(data + pos), len);
      pos += len;
      CheckJobs();
    }
  }

 private:
  void Apply(uint8_t op, uint8_t arg, const char* payload, size_t len) {
    const int payload_size = static_cast<int>(len);
    switch (op) {
      case 0: {
        polytrain::v1::Hello hello;
        if (!hello.ParseFromArray(payload, payload_size)) return;
        for (std::string& id : *hello.mutable_running_job_ids()) MapJobId(&id);
        auto channel = std::make_unique<CheckingChannel>(hello, &final_states_);
        absl::StatusOr<int64_t> session = protocol_->Connected(hello, channel.get());
        if (verbose) std::fprintf(stderr, "  connect: %s\n", session.status().ToString().c_str());
        if (!session.ok()) return;  // the channel dies here: the coordinator must not keep it
        POLYTRAIN_FUZZ_CHECK(channels_.count(*session) == 0, "a session id reused");
        sessions_.push_back(*session);
        channels_[*session] = std::move(channel);
        return;
      }
      case 1: {
        polytrain::v1::WorkerMessage message;
        if (!message.ParseFromArray(payload, payload_size)) return;
        MapJobIds(&message);
        const absl::Status status = protocol_->Handle(SessionAt(arg), message);
        if (verbose) std::fprintf(stderr, "  message: %s\n", status.ToString().c_str());
        return;
      }
      case 2: {
        const int64_t session = SessionAt(arg);
        protocol_->Disconnected(session);
        channels_.erase(session);
        return;
      }
      case 3: {
        const auto later = Scheduler::Clock::now() + std::chrono::seconds(arg);
        scheduler_->ExpireLeases(later);
        metrics_->DropExpiredJobSeries(later);
        return;
      }
      case 4: {
        polytrain::v1::SubmitJobRequest request;
        if (len == 0) {
          request = template_;
        } else if (!request.ParseFromArray(payload, payload_size)) {
          return;
        }
        Submit(request, CallerOf(arg));
        return;
      }
      case 5: {
        const Caller caller = CallerOf(arg >> 6);
        polytrain::v1::CancelJobRequest request;
        request.set_id(JobAt(arg & 63));
        polytrain::v1::GetJobRequest get;
        get.set_id(request.id());
        absl::StatusOr<Job> before = api_->GetJob(get, kAdmin);
        POLYTRAIN_FUZZ_CHECK(before.ok(), before.status().ToString());
        const absl::Status status = api_->CancelJob(request, caller).status();
        if (caller.own_jobs_only && before->owner() != caller.name) {
          // Another user's job: refused, and left as it was.
          POLYTRAIN_FUZZ_CHECK(status.code() == absl::StatusCode::kPermissionDenied,
                               status.ToString());
          absl::StatusOr<Job> after = api_->GetJob(get, kAdmin);
          POLYTRAIN_FUZZ_CHECK(after.ok() && after->state() == before->state(),
                               after.status().ToString());
        }
        return;
      }
      case 6: {
        const std::string name(payload, len);
        // The upload refuses any other name before the protocol hears of the file.
        if (!ValidateArtifactName("name", name).ok()) return;
        // Of the attempt the fuzzer's byte names: the running one or another.
        (void)protocol_->StoreArtifact(JobAt(arg), static_cast<int32_t>(arg % 4),
                                       JobAt(arg) + "/" + name, [] { return absl::OkStatus(); });
        return;
      }
      case 7: {
        polytrain::v1::GetJobRequest get;
        get.set_id(JobAt(arg));
        absl::StatusOr<Job> job = api_->GetJob(get, kAdmin);
        POLYTRAIN_FUZZ_CHECK(job.ok(), job.status().ToString());
        polytrain::v1::GetMetricsRequest metrics;
        metrics.set_job_id(JobAt(arg));
        absl::StatusOr<polytrain::v1::GetMetricsResponse> points =
            api_->GetMetrics(metrics, kAdmin);
        POLYTRAIN_FUZZ_CHECK(points.ok(), points.status().ToString());
        absl::StatusOr<polytrain::v1::ListJobsResponse> list =
            api_->ListJobs(polytrain::v1::ListJobsRequest(), kAdmin);
        POLYTRAIN_FUZZ_CHECK(list.ok(), list.status().ToString());
        return;
      }
    }
  }

  // Who submits or cancels: an admin, or one of two clients that own only their own jobs.
  static Caller CallerOf(uint8_t who) {
    switch (who % 3) {
      case 1:
        return Caller::Client("alice");
      case 2:
        return Caller::Client("bob");
      default:
        return Caller::Admin("");
    }
  }

  void Submit(const polytrain::v1::SubmitJobRequest& request,
              const Caller& caller = Caller::Admin("")) {
    absl::StatusOr<Job> job = api_->SubmitJob(request, caller);
    if (!job.ok()) return;
    // A retried request id returns the job it made before.
    for (const std::string& id : job_ids_) {
      if (id == job->id()) return;
    }
    job_ids_.push_back(job->id());
  }

  // After every operation: a final state is final, attempts stay within max_attempts.
  void CheckJobs() {
    for (const std::string& id : job_ids_) {
      polytrain::v1::GetJobRequest request;
      request.set_id(id);
      absl::StatusOr<Job> job = api_->GetJob(request, kAdmin);
      POLYTRAIN_FUZZ_CHECK(job.ok(), job.status().ToString());
      if (verbose) {
        std::fprintf(stderr, "  job %s %s attempts %d worker %s %s\n", job->spec().name().c_str(),
                     polytrain::v1::JobState_Name(job->state()).c_str(), job->attempts(),
                     job->worker().c_str(), job->error().c_str());
      }
      POLYTRAIN_FUZZ_CHECK(job->state() != polytrain::v1::JOB_STATE_UNSPECIFIED, id);
      POLYTRAIN_FUZZ_CHECK(job->attempts() >= 0 && job->attempts() <= MaxAttempts(job->spec()),
                           job->DebugString());
      auto ended = final_states_.find(id);
      if (ended != final_states_.end()) {
        POLYTRAIN_FUZZ_CHECK(job->state() == ended->second,
                             "a job left its final state: " + job->DebugString());
      } else if (IsFinalState(job->state())) {
        final_states_[id] = job->state();
      }
    }
  }

  int64_t SessionAt(uint8_t arg) const {
    return arg < sessions_.size() ? sessions_[arg] : 1000 + arg;
  }
  std::string JobAt(uint8_t arg) const { return job_ids_[arg % job_ids_.size()]; }

  void MapJobId(std::string* id) const {
    if (id->size() == 1 && (*id)[0] >= '0' && (*id)[0] <= '9') {
      const size_t index = static_cast<size_t>((*id)[0] - '0');
      if (index < job_ids_.size()) *id = job_ids_[index];
    }
  }
  void MapJobIds(polytrain::v1::WorkerMessage* message) const {
    if (message->has_heartbeat()) {
      for (std::string& id : *message->mutable_heartbeat()->mutable_running_job_ids()) {
        MapJobId(&id);
      }
    }
    if (message->has_metrics()) MapJobId(message->mutable_metrics()->mutable_job_id());
    if (message->has_finished()) MapJobId(message->mutable_finished()->mutable_job_id());
    if (message->has_failed()) MapJobId(message->mutable_failed()->mutable_job_id());
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  const Caller kAdmin = Caller::Admin("");
  std::unique_ptr<CoordinatorCore> core_;
  Scheduler* scheduler_ = nullptr;
  ClientApi* api_ = nullptr;
  WorkerProtocol* protocol_ = nullptr;
  polytrain::v1::SubmitJobRequest template_;
  std::vector<std::string> job_ids_;
  std::vector<int64_t> sessions_;
  std::map<int64_t, std::unique_ptr<CheckingChannel>> channels_;
  FinalStates final_states_;
};

}  // namespace
}  // namespace polytrain

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  polytrain::fuzz::SilenceProtobufLogs();
  polytrain::verbose = std::getenv("POLYTRAIN_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polytrain::Session session;
  session.Run(data, size);
  return 0;
}
