#include "server/coordinator.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "loss/core/describe.h"
#include "loss/spec/loss_spec.h"
#include "server/artifact_store.h"
#include "server/job_comparison.h"
#include "worker/job_spec.h"

namespace polytrain {
namespace {

using google::protobuf::util::TimeUtil;
using polytrain::v1::Job;
using polytrain::v1::JobState;

constexpr int kMaxRequestIdLength = 128;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxSlots = 64;
constexpr int kMaxSweepLosses = 100;
constexpr int kMaxSweepSeeds = 100;
constexpr int kMaxSweepJobs = 1000;
constexpr int kMaxCompareJobs = 1000;
// What one worker message may carry (a worker sends at most 100 points per batch and a few
// dozen values per point).
constexpr int kMaxPointsPerBatch = 10000;
constexpr int kMaxValuesPerPoint = 256;
constexpr int kMaxValueNameLength = 128;
constexpr size_t kMaxErrorLength = 4096;

absl::Status CheckMetricValues(absl::string_view field,
                               const google::protobuf::Map<std::string, double>& values) {
  if (values.size() > static_cast<size_t>(kMaxValuesPerPoint)) {
    return InvalidField(
        field, absl::StrCat("at most ", kMaxValuesPerPoint, " values, got ", values.size()));
  }
  for (const auto& [name, value] : values) {
    POLYTRAIN_RETURN_IF_ERROR(CheckLength(absl::StrCat(field, "[", name.substr(0, 32), "]"), name,
                                          1, kMaxValueNameLength));
  }
  return absl::OkStatus();
}

absl::Status CheckMetricBatch(const polytrain::v1::MetricBatch& batch) {
  if (batch.points_size() > kMaxPointsPerBatch) {
    return InvalidField("metrics.points",
                        absl::StrCat("at most ", kMaxPointsPerBatch, " points per batch, got ",
                                     batch.points_size()));
  }
  for (int i = 0; i < batch.points_size(); ++i) {
    const auto& point = batch.points(i);
    const std::string path = IndexPath("metrics.points", i);
    POLYTRAIN_RETURN_IF_ERROR(
        CheckIntRange(absl::StrCat(path, ".step"), point.step(), 0, kMaxSteps));
    POLYTRAIN_RETURN_IF_ERROR(CheckMetricValues(absl::StrCat(path, ".values"), point.values()));
  }
  return absl::OkStatus();
}

// A loss's short name as a job-name part: "poly1(e=2)" -> "poly1-e-2".
std::string NamePart(const std::string& loss_name) {
  std::string out;
  for (char c : loss_name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (keep) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool IsTerminal(JobState state) {
  return state == polytrain::v1::JOB_STATE_SUCCEEDED || state == polytrain::v1::JOB_STATE_FAILED ||
         state == polytrain::v1::JOB_STATE_CANCELLED;
}

absl::Status CheckJobId(absl::string_view field, const std::string& id) {
  if (id.empty()) return InvalidField(field, "must be set");
  return CheckLength(field, id, 1, 64);
}

// The job if `caller` may see it. `field` names the id in the request.
absl::StatusOr<Job> AccessibleJob(JobStore& store, absl::string_view field, const std::string& id,
                                  const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(CheckJobId(field, id));
  absl::StatusOr<Job> job = store.GetJob(id);
  if (!job.ok()) return job.status();
  if (caller.own_jobs_only && job->owner() != caller.name) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": job ", id, " belongs to another user"));
  }
  return job;
}

// Printable ASCII only: the store keys idempotency by owner and request id joined by a
// control character, which therefore cannot appear in either.
absl::Status CheckRequestId(absl::string_view field, absl::string_view id, int max_length) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, id, 0, max_length));
  for (char c : id) {
    if (c < ' ' || c > '~') return InvalidField(field, "use only printable ASCII characters");
  }
  return absl::OkStatus();
}

bool WorkerCanRun(const polytrain::v1::Hello& hello, const Job& job) {
  if (job.spec().device() != polytrain::v1::DEVICE_CUDA) return true;
  for (const std::string& device : hello.devices()) {
    if (device == "cuda") return true;
  }
  return false;
}

}  // namespace

Coordinator::Coordinator(std::unique_ptr<JobStore> store, Options options)
    : store_(std::move(store)), options_(options) {}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(std::unique_ptr<JobStore> store,
                                                                 Options options) {
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(store), options));
  absl::StatusOr<std::vector<Job>> queued =
      c->store_->JobsInStates({polytrain::v1::JOB_STATE_QUEUED});
  if (!queued.ok()) return queued.status();
  absl::StatusOr<std::vector<Job>> running =
      c->store_->JobsInStates({polytrain::v1::JOB_STATE_RUNNING});
  if (!running.ok()) return running.status();
  {
    std::lock_guard<std::mutex> lock(c->mu_);
    for (const Job& job : *queued) c->EnqueueLocked(job);
    for (const Job& job : *running) {
      c->running_[job.id()] = RunningJob{-1, job.attempts(), Clock::now() + c->Lease(), false, job};
    }
  }
  if (options.metrics != nullptr) {
    absl::StatusOr<std::map<JobState, int64_t>> counts = c->store_->CountJobsByState();
    if (!counts.ok()) return counts.status();
    for (const auto& [state, n] : *counts) {
      for (int64_t i = 0; i < n; ++i) {
        options.metrics->JobStateChanged(polytrain::v1::JOB_STATE_UNSPECIFIED, state);
      }
    }
    options.metrics->SetQueueDepth(c->queue_.size());
  }
  if (options.lease_thread) c->lease_thread_ = std::thread([p = c.get()] { p->LeaseLoop(); });
  return c;
}

Coordinator::~Coordinator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, watchers] : watchers_) {
      for (JobWatcher* watcher : watchers) watcher->OnEnd();
    }
    watchers_.clear();
  }
  stop_cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
}

Coordinator::Clock::duration Coordinator::Lease() const {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.lease_seconds));
}

void Coordinator::LeaseLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stopping_) break;
    lock.unlock();
    ExpireLeases(Clock::now());
    if (options_.metrics != nullptr) options_.metrics->DropExpiredJobSeries(Clock::now());
    lock.lock();
  }
}

void Coordinator::EnqueueLocked(const Job& job) {
  queue_.emplace(QueueKey{job.spec().priority(), next_order_++}, job);
  queued_since_[job.id()] = Clock::now();
}

void Coordinator::CountTransitionLocked(JobState from, JobState to) {
  if (options_.metrics == nullptr) return;
  options_.metrics->JobStateChanged(from, to);
  options_.metrics->SetQueueDepth(queue_.size());
  options_.metrics->SetWorkersConnected(workers_.size());
}

absl::StatusOr<Job> Coordinator::NewJob(const polytrain::v1::SubmitJobRequest& request,
                                        const Caller& caller) const {
  if (!request.has_spec()) return InvalidField("spec", "must be set");
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobSpec(request.spec(), "spec"));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckRequestId("client_request_id", request.client_request_id(), kMaxRequestIdLength));
  absl::StatusOr<loss::LossConfig> loss = loss::ToLossConfig(request.spec().loss(), "spec.loss");
  if (!loss.ok()) return loss.status();
  Job job;
  *job.mutable_spec() = request.spec();
  job.set_state(polytrain::v1::JOB_STATE_QUEUED);
  job.set_client_request_id(request.client_request_id());
  job.set_loss_name(loss::ShortName(*loss));
  job.set_owner(caller.name);
  return job;
}

absl::StatusOr<std::vector<Job>> Coordinator::StoreNewJobs(std::vector<Job> jobs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> created;
  absl::StatusOr<std::vector<Job>> stored = store_->CreateJobs(std::move(jobs), &created);
  if (!stored.ok()) return stored.status();
  for (size_t i = 0; i < stored->size(); ++i) {
    if (!created[i]) continue;
    EnqueueLocked((*stored)[i]);
    if (options_.metrics != nullptr) options_.metrics->JobSubmitted();
    CountTransitionLocked(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_QUEUED);
  }
  ScheduleLocked();
  // As they are now: scheduling may have started some, a retry returns the job as it stands.
  for (Job& job : *stored) {
    absl::StatusOr<Job> now = store_->GetJob(job.id());
    if (!now.ok()) return now.status();
    job = *std::move(now);
  }
  return stored;
}

absl::StatusOr<Job> Coordinator::SubmitJob(const polytrain::v1::SubmitJobRequest& request,
                                           const Caller& caller) {
  absl::StatusOr<Job> job = NewJob(request, caller);
  if (!job.ok()) return job.status();
  absl::StatusOr<std::vector<Job>> stored = StoreNewJobs({*std::move(job)});
  if (!stored.ok()) return stored.status();
  return std::move(stored->front());
}

absl::StatusOr<polytrain::v1::SubmitSweepResponse> Coordinator::SubmitSweep(
    const polytrain::v1::SubmitSweepRequest& request, const Caller& caller) {
  if (!request.has_base()) return InvalidField("base", "must be set");
  if (request.losses_size() < 1 || request.losses_size() > kMaxSweepLosses) {
    return InvalidField("losses", absl::StrCat("must have 1 to ", kMaxSweepLosses, " entries, got ",
                                               request.losses_size()));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("seeds", request.seeds(), 0, kMaxSweepSeeds));
  const int seeds = request.seeds() == 0 ? 1 : request.seeds();
  if (request.losses_size() * seeds > kMaxSweepJobs) {
    return InvalidField("seeds", absl::StrCat("losses x seeds must be at most ", kMaxSweepJobs,
                                              ", got ", request.losses_size() * seeds));
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckRequestId("client_request_id", request.client_request_id(), kMaxRequestIdLength - 16));
  // Every job is checked, then all are stored in one transaction: a sweep is accepted whole or
  // not at all.
  std::vector<polytrain::v1::SubmitJobRequest> jobs;
  std::string sweep_id;
  if (request.client_request_id().empty()) {
    sweep_id = absl::StrFormat(
        "sweep-%012x", std::hash<std::string>()(absl::StrCat(
                           Clock::now().time_since_epoch().count(), request.base().name())) &
                           0xffffffffffffULL);
  } else {  // a retry names the same sweep
    sweep_id = absl::StrFormat(
        "sweep-%012x",
        std::hash<std::string>()(absl::StrCat(caller.name, "\x1f", request.client_request_id())) &
            0xffffffffffffULL);
  }
  for (int i = 0; i < request.losses_size(); ++i) {
    absl::StatusOr<loss::LossConfig> loss =
        loss::ToLossConfig(request.losses(i), IndexPath("losses", i));
    if (!loss.ok()) return loss.status();
    const std::string loss_name = loss::ShortName(*loss);
    for (int k = 0; k < seeds; ++k) {
      polytrain::v1::SubmitJobRequest job;
      polytrain::v1::JobSpec& spec = *job.mutable_spec();
      spec = request.base();
      *spec.mutable_loss() = request.losses(i);
      spec.set_seed(request.base().seed() + k);
      spec.set_name(absl::StrCat(request.base().name(), "-", NamePart(loss_name), "-s", spec.seed())
                        .substr(0, 128));
      (*spec.mutable_labels())["sweep"] = sweep_id;
      (*spec.mutable_labels())["loss"] = NamePart(loss_name).substr(0, 256);
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobSpec(spec, "base"));
      if (!request.client_request_id().empty()) {
        job.set_client_request_id(absl::StrCat(request.client_request_id(), "/", i, "/", k));
      }
      jobs.push_back(std::move(job));
    }
  }
  std::vector<Job> new_jobs;
  for (const auto& job : jobs) {
    absl::StatusOr<Job> prepared = NewJob(job, caller);
    if (!prepared.ok()) return prepared.status();
    new_jobs.push_back(*std::move(prepared));
  }
  absl::StatusOr<std::vector<Job>> stored = StoreNewJobs(std::move(new_jobs));
  if (!stored.ok()) return stored.status();
  polytrain::v1::SubmitSweepResponse response;
  response.set_sweep_id(sweep_id);
  for (Job& job : *stored) *response.add_jobs() = std::move(job);
  return response;
}

absl::StatusOr<polytrain::v1::CompareJobsResponse> Coordinator::CompareJobs(
    const polytrain::v1::CompareJobsRequest& request, const Caller& caller) {
  if (request.job_ids().empty() == request.sweep_id().empty()) {
    return InvalidField("job_ids", "give job_ids or a sweep_id (exactly one)");
  }
  if (request.job_ids_size() > kMaxCompareJobs) {
    return InvalidField("job_ids", absl::StrCat("at most ", kMaxCompareJobs, " jobs, got ",
                                                request.job_ids_size()));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("curve_points", request.curve_points(), 0, 10000));
  std::vector<Job> jobs;
  for (int i = 0; i < request.job_ids_size(); ++i) {
    absl::StatusOr<Job> job =
        AccessibleJob(*store_, IndexPath("job_ids", i), request.job_ids(i), caller);
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  }
  if (!request.sweep_id().empty()) {
    JobFilter filter;
    POLYTRAIN_RETURN_IF_ERROR(CheckLength("sweep_id", request.sweep_id(), 1, 64));
    filter.labels = {{"sweep", request.sweep_id()}};
    if (caller.own_jobs_only) filter.owner = caller.name;
    filter.page_size = kMaxCompareJobs;
    absl::StatusOr<JobPage> page = store_->ListJobs(filter);
    if (!page.ok()) return page.status();
    if (page->jobs.empty()) {
      return absl::NotFoundError(absl::StrCat("sweep_id: no jobs in sweep ", request.sweep_id()));
    }
    jobs.assign(page->jobs.rbegin(), page->jobs.rend());  // oldest first
  }
  std::vector<JobWithMetrics> with_metrics;
  for (Job& job : jobs) {
    absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> points = store_->GetMetrics(job.id());
    if (!points.ok()) return points.status();
    with_metrics.push_back({std::move(job), *std::move(points)});
  }
  return BuildComparison(with_metrics, request.metric(), request.baseline_loss(),
                         request.curve_points());
}

absl::StatusOr<Job> Coordinator::GetJob(const polytrain::v1::GetJobRequest& request,
                                        const Caller& caller) {
  return AccessibleJob(*store_, "id", request.id(), caller);
}

absl::StatusOr<polytrain::v1::ListJobsResponse> Coordinator::ListJobs(
    const polytrain::v1::ListJobsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("page_size", request.page_size(), 0, kMaxPageSize));
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("page_token", request.page_token(), 0, 32));
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("owner", request.owner(), 0, 64));
  POLYTRAIN_RETURN_IF_ERROR(ValidateLabelMap(request.labels(), "labels"));
  if (request.states_size() > polytrain::v1::JobState_ARRAYSIZE) {
    return InvalidField("states", absl::StrCat("at most ", polytrain::v1::JobState_ARRAYSIZE,
                                               " states, got ", request.states_size()));
  }
  JobFilter filter;
  if (caller.own_jobs_only) {
    if (!request.owner().empty() && request.owner() != caller.name) {
      return absl::PermissionDeniedError("owner: a client token lists only its own jobs");
    }
    filter.owner = caller.name;
  } else if (!request.owner().empty()) {
    filter.owner = request.owner();
  }
  for (int i = 0; i < request.states_size(); ++i) {
    if (!polytrain::v1::JobState_IsValid(request.states(i)) ||
        request.states(i) == polytrain::v1::JOB_STATE_UNSPECIFIED) {
      return InvalidField(IndexPath("states", i),
                          absl::StrCat("unknown state ", request.states(i)));
    }
    filter.states.push_back(request.states(i));
  }
  filter.labels.insert(request.labels().begin(), request.labels().end());
  filter.page_size = request.page_size() == 0 ? 100 : request.page_size();
  filter.page_token = request.page_token();
  absl::StatusOr<JobPage> page = store_->ListJobs(filter);
  if (!page.ok()) return page.status();
  polytrain::v1::ListJobsResponse response;
  for (Job& job : page->jobs) *response.add_jobs() = std::move(job);
  response.set_next_page_token(page->next_page_token);
  return response;
}

absl::StatusOr<Job> Coordinator::CancelJob(const polytrain::v1::CancelJobRequest& request,
                                           const Caller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = AccessibleJob(*store_, "id", request.id(), caller);
  if (!job.ok()) return job.status();
  if (IsTerminal(job->state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job->id(), " already ended (", polytrain::v1::JobState_Name(job->state()), ")"));
  }
  if (job->state() == polytrain::v1::JOB_STATE_QUEUED) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->second.id() == job->id()) {
        queue_.erase(it);
        queued_since_.erase(job->id());
        break;
      }
    }
    POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(job->id(), polytrain::v1::JOB_STATE_CANCELLED,
                                              "cancelled while queued", nullptr));
    return store_->GetJob(job->id());
  }
  auto running = running_.find(job->id());
  if (running != running_.end()) {
    running->second.cancel_requested = true;
    auto worker = workers_.find(running->second.session);
    if (worker != workers_.end()) {
      polytrain::v1::CoordinatorMessage cancel;
      cancel.mutable_cancel()->set_job_id(job->id());
      worker->second.channel->Send(cancel);
    }
  }
  return *job;  // still RUNNING; CANCELLED once the worker stops it (or its lease lapses)
}

absl::StatusOr<polytrain::v1::GetMetricsResponse> Coordinator::GetMetrics(
    const polytrain::v1::GetMetricsRequest& request, const Caller& caller) {
  POLYTRAIN_RETURN_IF_ERROR(AccessibleJob(*store_, "job_id", request.job_id(), caller).status());
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> points =
      store_->GetMetrics(request.job_id());
  if (!points.ok()) return points.status();
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("max_points", request.max_points(), 0, 10'000'000));
  polytrain::v1::GetMetricsResponse response;
  const size_t n = points->size(), limit = static_cast<size_t>(request.max_points());
  if (limit == 0 || n <= limit) {
    for (auto& p : *points) *response.add_points() = std::move(p);
  } else {
    for (size_t k = 0; k < limit; ++k) {
      const size_t index = limit == 1 ? n - 1 : k * (n - 1) / (limit - 1);
      *response.add_points() = std::move((*points)[index]);
    }
  }
  return response;
}

absl::Status Coordinator::Watch(const polytrain::v1::WatchJobRequest& request, JobWatcher* watcher,
                                const Caller& caller) {
  // Under mu_, so no state change or metric point falls between the history and the live feed.
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = AccessibleJob(*store_, "id", request.id(), caller);
  if (!job.ok()) return job.status();
  absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> history =
      store_->GetMetrics(request.id());
  if (!history.ok()) return history.status();
  polytrain::v1::JobEvent event;
  *event.mutable_job() = *job;
  watcher->OnEvent(event);
  for (const auto& point : *history) {
    *event.mutable_point() = point;
    watcher->OnEvent(event);
  }
  if (IsTerminal(job->state())) {
    watcher->OnEnd();
  } else {
    watchers_[job->id()].insert(watcher);
  }
  return absl::OkStatus();
}

void Coordinator::Unwatch(const std::string& job_id, JobWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = watchers_.find(job_id);
  if (it == watchers_.end()) return;
  it->second.erase(watcher);
  if (it->second.empty()) watchers_.erase(it);
}

void Coordinator::NotifyJobLocked(const Job& job) {
  auto it = watchers_.find(job.id());
  if (it == watchers_.end()) return;
  polytrain::v1::JobEvent event;
  *event.mutable_job() = job;
  for (JobWatcher* watcher : it->second) watcher->OnEvent(event);
  if (IsTerminal(job.state())) {
    for (JobWatcher* watcher : it->second) watcher->OnEnd();
    watchers_.erase(it);
  }
}

absl::StatusOr<int64_t> Coordinator::WorkerConnected(const polytrain::v1::Hello& hello,
                                                     WorkerChannel* channel) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("hello.name", hello.name(), 1, 128));
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("hello.slots", hello.slots(), 0, kMaxSlots));
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [session, worker] : workers_) {
    if (worker.hello.name() == hello.name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("hello.name: a worker named ", hello.name(), " is already connected"));
    }
  }
  const int64_t session = next_session_++;
  WorkerState& state = workers_[session];
  state.hello = hello;
  if (state.hello.slots() == 0) state.hello.set_slots(1);
  state.channel = channel;
  // Re-attach the jobs it kept running across a reconnect.
  for (const std::string& job_id : hello.running_job_ids()) {
    auto it = running_.find(job_id);
    if (it != running_.end() && it->second.session == -1) {
      it->second.session = session;
      it->second.lease_expiry = Clock::now() + Lease();
      state.running.insert(job_id);
    }
  }
  polytrain::v1::CoordinatorMessage welcome;
  welcome.mutable_welcome()->set_heartbeat_seconds(options_.heartbeat_seconds);
  welcome.mutable_welcome()->set_lease_seconds(options_.lease_seconds);
  channel->Send(welcome);
  CountTransitionLocked(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_UNSPECIFIED);
  ScheduleLocked();
  return session;
}

void Coordinator::WorkerDisconnected(int64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(session);
  if (it == workers_.end()) return;
  for (const std::string& job_id : it->second.running) {
    auto job = running_.find(job_id);
    if (job != running_.end()) job->second.session = -1;
  }
  workers_.erase(it);
  CountTransitionLocked(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_UNSPECIFIED);
}

int Coordinator::ConnectedWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(workers_.size());
}

void Coordinator::ScheduleLocked() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    WorkerState* chosen = nullptr;
    int64_t chosen_session = -1;
    for (auto& [session, worker] : workers_) {
      if (static_cast<int>(worker.running.size()) < worker.hello.slots() &&
          WorkerCanRun(worker.hello, it->second)) {
        chosen = &worker;
        chosen_session = session;
        break;
      }
    }
    if (chosen == nullptr) {
      ++it;
      continue;
    }
    Job job = it->second;
    job.set_state(polytrain::v1::JOB_STATE_RUNNING);
    job.set_attempts(job.attempts() + 1);
    job.set_worker(chosen->hello.name());
    *job.mutable_start_time() = TimeUtil::GetCurrentTime();
    if (!store_->UpdateJob(job).ok()) {
      ++it;  // the store refused; the job stays queued and is retried on the next event
      continue;
    }
    it = queue_.erase(it);
    running_[job.id()] =
        RunningJob{chosen_session, job.attempts(), Clock::now() + Lease(), false, job};
    if (options_.metrics != nullptr) {
      options_.metrics->JobScheduled(
          std::chrono::duration<double>(Clock::now() - queued_since_[job.id()]).count());
    }
    queued_since_.erase(job.id());
    CountTransitionLocked(polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING);
    NotifyJobLocked(job);
    chosen->running.insert(job.id());
    polytrain::v1::CoordinatorMessage assignment;
    *assignment.mutable_assignment()->mutable_job() = job;
    chosen->channel->Send(assignment);
  }
}

absl::Status Coordinator::FinishJobLocked(
    const std::string& job_id, JobState state, const std::string& error,
    const google::protobuf::Map<std::string, double>* metrics) {
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  const JobState previous = job->state();
  job->set_state(state);
  job->set_error(error);
  if (metrics != nullptr) *job->mutable_final_metrics() = *metrics;
  *job->mutable_end_time() = TimeUtil::GetCurrentTime();
  POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
  auto running = running_.find(job_id);
  if (running != running_.end()) {
    auto worker = workers_.find(running->second.session);
    if (worker != workers_.end()) worker->second.running.erase(job_id);
    running_.erase(running);
  }
  CountTransitionLocked(previous, state);
  if (options_.metrics != nullptr) options_.metrics->JobEnded(job_id, Clock::now());
  NotifyJobLocked(*job);
  return absl::OkStatus();
}

absl::Status Coordinator::HandleWorkerMessage(int64_t session,
                                              const polytrain::v1::WorkerMessage& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto worker = workers_.find(session);
  if (worker == workers_.end()) return absl::FailedPreconditionError("unknown worker session");
  // Messages about a job count only from the worker and attempt that hold its lease.
  auto owned = [&](const std::string& job_id, int32_t attempt) -> RunningJob* {
    auto it = running_.find(job_id);
    if (it == running_.end() || it->second.session != session) return nullptr;
    if (attempt != 0 && attempt != it->second.attempt) return nullptr;
    return &it->second;
  };
  switch (message.kind_case()) {
    case polytrain::v1::WorkerMessage::kHeartbeat:
      for (const std::string& job_id : message.heartbeat().running_job_ids()) {
        if (RunningJob* job = owned(job_id, 0)) job->lease_expiry = Clock::now() + Lease();
      }
      return absl::OkStatus();
    case polytrain::v1::WorkerMessage::kMetrics: {
      const auto& batch = message.metrics();
      POLYTRAIN_RETURN_IF_ERROR(CheckMetricBatch(batch));
      RunningJob* job = owned(batch.job_id(), batch.attempt());
      if (job == nullptr) return absl::OkStatus();  // a stale attempt: dropped
      job->lease_expiry = Clock::now() + Lease();
      if (options_.metrics != nullptr) {
        for (const auto& point : batch.points()) options_.metrics->JobProgress(job->job, point);
      }
      if (auto watching = watchers_.find(batch.job_id()); watching != watchers_.end()) {
        polytrain::v1::JobEvent event;
        for (const auto& point : batch.points()) {
          *event.mutable_point() = point;
          for (JobWatcher* watcher : watching->second) watcher->OnEvent(event);
        }
      }
      return store_->AddMetrics(batch.job_id(), {batch.points().begin(), batch.points().end()});
    }
    case polytrain::v1::WorkerMessage::kStarted: {
      const auto& started = message.started();
      POLYTRAIN_RETURN_IF_ERROR(
          CheckIntRange("started.resumed_from_step", started.resumed_from_step(), 0, kMaxSteps));
      RunningJob* job = owned(started.job_id(), started.attempt());
      if (job == nullptr) return absl::OkStatus();
      job->lease_expiry = Clock::now() + Lease();
      // Points the earlier attempt stored past this attempt's checkpoint would otherwise sit
      // beside the ones this attempt writes for the same steps, or outlive them.
      POLYTRAIN_RETURN_IF_ERROR(
          store_->DeleteMetricsAfter(started.job_id(), started.resumed_from_step()));
      absl::StatusOr<Job> stored = store_->GetJob(started.job_id());
      if (!stored.ok()) return stored.status();
      stored->set_resumed_from_step(started.resumed_from_step());
      return store_->UpdateJob(*stored);
    }
    case polytrain::v1::WorkerMessage::kFinished: {
      const auto& done = message.finished();
      POLYTRAIN_RETURN_IF_ERROR(CheckMetricValues("finished.final_metrics", done.final_metrics()));
      if (owned(done.job_id(), done.attempt()) == nullptr) return absl::OkStatus();
      if (done.resumed_from_step() > 0) {
        absl::StatusOr<Job> job = store_->GetJob(done.job_id());
        if (!job.ok()) return job.status();
        job->set_resumed_from_step(done.resumed_from_step());
        POLYTRAIN_RETURN_IF_ERROR(store_->UpdateJob(*job));
      }
      POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(done.job_id(), polytrain::v1::JOB_STATE_SUCCEEDED,
                                                "", &done.final_metrics()));
      ScheduleLocked();
      return absl::OkStatus();
    }
    case polytrain::v1::WorkerMessage::kFailed: {
      const auto& failed = message.failed();
      RunningJob* job = owned(failed.job_id(), failed.attempt());
      if (job == nullptr) return absl::OkStatus();
      const bool cancelled = failed.cancelled() || job->cancel_requested;
      // A failure is never refused for its message; an overlong one is cut.
      std::string error = failed.error().substr(0, kMaxErrorLength);
      if (failed.error().size() > kMaxErrorLength) error += "... (cut)";
      POLYTRAIN_RETURN_IF_ERROR(FinishJobLocked(
          failed.job_id(),
          cancelled ? polytrain::v1::JOB_STATE_CANCELLED : polytrain::v1::JOB_STATE_FAILED,
          cancelled ? "cancelled while running" : error, nullptr));
      ScheduleLocked();
      return absl::OkStatus();
    }
    case polytrain::v1::WorkerMessage::kHello:
      return absl::FailedPreconditionError("hello: sent twice on one stream");
    case polytrain::v1::WorkerMessage::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("kind: empty worker message");
}

absl::Status Coordinator::ArtifactStored(const std::string& job_id, const std::string& name,
                                         const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Job> job = store_->GetJob(job_id);
  if (!job.ok()) return job.status();
  if (name.rfind(kCheckpointPrefix, 0) != 0) return absl::OkStatus();
  job->set_checkpoint(path);
  return store_->UpdateJob(*job);
}

void Coordinator::ExpireLeases(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> lapsed;
  for (const auto& [job_id, job] : running_) {
    if (job.lease_expiry < now) lapsed.push_back(job_id);
  }
  for (const std::string& job_id : lapsed) {
    const RunningJob running = running_[job_id];
    absl::StatusOr<Job> job = store_->GetJob(job_id);
    if (!job.ok()) continue;
    auto worker = workers_.find(running.session);
    const std::string where =
        worker != workers_.end() ? worker->second.hello.name() : job->worker();
    if (worker != workers_.end()) {  // alive but silent about this job: take it back
      polytrain::v1::CoordinatorMessage cancel;
      cancel.mutable_cancel()->set_job_id(job_id);
      worker->second.channel->Send(cancel);
    }
    // Cancellation wins over a requeue.
    if (running.cancel_requested) {
      (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                            "cancelled; its worker stopped answering", nullptr);
      continue;
    }
    const std::string error =
        absl::StrCat("lease expired on worker ", where, " (attempt ", running.attempt, ")");
    if (job->attempts() >= MaxAttempts(job->spec())) {
      (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_FAILED,
                            absl::StrCat(error, "; no attempts left of ", MaxAttempts(job->spec())),
                            nullptr);
      continue;
    }
    if (worker != workers_.end()) worker->second.running.erase(job_id);
    running_.erase(job_id);
    job->set_state(polytrain::v1::JOB_STATE_QUEUED);
    job->set_error(error);
    if (store_->UpdateJob(*job).ok()) {
      EnqueueLocked(*job);
      CountTransitionLocked(polytrain::v1::JOB_STATE_RUNNING, polytrain::v1::JOB_STATE_QUEUED);
      NotifyJobLocked(*job);
    }
  }
  if (!lapsed.empty()) ScheduleLocked();
}

}  // namespace polytrain
