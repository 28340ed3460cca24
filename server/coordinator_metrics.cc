#include "server/coordinator_metrics.h"

#include <algorithm>
#include <cmath>

#include "grpcpp/support/status_code_enum.h"
#include "polytrain/v1/worker.pb.h"

namespace polytrain {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::string StateLabel(polytrain::v1::JobState state) {
  switch (state) {
    case polytrain::v1::JOB_STATE_QUEUED:
      return "queued";
    case polytrain::v1::JOB_STATE_RUNNING:
      return "running";
    case polytrain::v1::JOB_STATE_SUCCEEDED:
      return "succeeded";
    case polytrain::v1::JOB_STATE_FAILED:
      return "failed";
    case polytrain::v1::JOB_STATE_CANCELLED:
      return "cancelled";
    case polytrain::v1::JOB_STATE_PAUSED:
      return "paused";
    case polytrain::v1::JOB_STATE_STOPPED:
      return "stopped";
    default:
      return "";
  }
}

std::string CodeLabel(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

// Which MetricPoint value each per-job gauge shows, and the gauge's name and help.
struct JobGauge {
  const char* value;
  const char* name;
  const char* help;
};
const JobGauge kJobGauges[] = {
    {"loss", "polytrain_job_train_loss", "Latest training loss of the job (window mean)."},
    {"eval_loss", "polytrain_job_eval_loss", "Loss of the job's latest evaluation."},
    {"eval_nll", "polytrain_job_eval_nll",
     "Negative log-likelihood of the true class at the job's latest evaluation: the same "
     "measure whatever the job's loss, so comparable across losses."},
    {"eval_accuracy", "polytrain_job_eval_accuracy",
     "Top-1 accuracy of the job's latest evaluation (0-1; multi-label data: the fraction of "
     "label decisions right)."},
    {"eval_f1", "polytrain_job_eval_f1",
     "Micro-averaged F1 of the job's latest evaluation, for multi-label data (0-1)."},
    {"samples_per_second", "polytrain_job_samples_per_second",
     "Training throughput of the job, samples per second."},
    {"allreduce_seconds_per_step", "polytrain_job_allreduce_seconds_per_step",
     "A data-parallel job's rank 0: seconds per step spent in the gradient all-reduce."},
    {"step", "polytrain_job_step", "Optimizer steps the job has completed."},
    {"epoch", "polytrain_job_epoch", "Epoch the job is in (0-based)."},
};

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry,
                                       Clock::duration job_series_retention,
                                       size_t max_finished_job_series)
    : jobs_(BuildGauge().Name("polytrain_jobs").Help("Jobs by state.").Register(registry)),
      transitions_(BuildCounter()
                       .Name("polytrain_job_transitions_total")
                       .Help("Jobs that entered each state (a requeue counts as queued again).")
                       .Register(registry)),
      queue_depth_(BuildGauge()
                       .Name("polytrain_queue_depth")
                       .Help("Jobs waiting for a worker.")
                       .Register(registry)
                       .Add({})),
      workers_connected_(BuildGauge()
                             .Name("polytrain_workers_connected")
                             .Help("Workers with an open stream.")
                             .Register(registry)
                             .Add({})),
      submissions_(
          BuildCounter()
              .Name("polytrain_job_submissions_total")
              .Help("Jobs created: by SubmitJob, by SubmitSweep, and by searches (trials and "
                    "re-runs).")
              .Register(registry)
              .Add({})),
      scheduling_latency_(
          BuildHistogram()
              .Name("polytrain_scheduling_latency_seconds")
              .Help("Time from a job's queueing to its assignment to a worker.")
              .Register(registry)
              // Jobs of a sweep often queue seconds to a minute: bounds close enough there for
              // a quantile to mean something.
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20,
                                                           30, 60, 120, 300, 600, 1800, 3600})),
      rpc_requests_(BuildCounter()
                        .Name("polytrain_rpc_requests_total")
                        .Help("Client RPCs handled, by method and status code.")
                        .Register(registry)),
      rpc_duration_(BuildHistogram()
                        .Name("polytrain_rpc_duration_seconds")
                        .Help("Client RPC handling time, by method; a stream (WatchJob, "
                              "UploadArtifact) counts as it ends, with its whole duration.")
                        .Register(registry)),
      worker_messages_refused_(
          BuildCounter()
              .Name("polytrain_worker_messages_refused_total")
              .Help("Worker messages refused for good (a field past its limit, a non-finite "
                    "final metric...), by kind: what they carried is dropped, and the "
                    "coordinator's log and the worker's name the field.")
              .Register(registry)),
      worker_messages_dropped_(
          BuildCounter()
              .Name("polytrain_worker_messages_dropped_total")
              .Help("Worker reports about an attempt the worker does not hold (ended, requeued, "
                    "another worker's, no such job), by kind: acknowledged and dropped; the "
                    "coordinator logs the first of each job per worker stream.")
              .Register(registry)),
      auth_refusals_(BuildCounter()
                         .Name("polytrain_auth_refusals_total")
                         .Help("Calls refused by access control (a missing, unknown or revoked "
                               "token, the wrong role, a worker without its certificate), by "
                               "protocol (client, worker) and code; the log names each peer, "
                               "at most 10 a minute.")
                         .Register(registry)),
      search_trials_(BuildGauge()
                         .Name("polytrain_search_rung_trials")
                         .Help("A successive-halving search's trials per rung, by status: "
                               "reported (finished the rung), promoted (went past it), paused "
                               "(waiting at it), training (towards it).")
                         .Register(registry)),
      search_best_(BuildGauge()
                       .Name("polytrain_search_rung_best")
                       .Help("The best value of a search's metric at each rung so far.")
                       .Register(registry)),
      search_steps_(BuildGauge()
                        .Name("polytrain_search_steps")
                        .Help("Optimizer steps trained by all of a search's jobs.")
                        .Register(registry)),
      retention_(job_series_retention),
      max_finished_(max_finished_job_series) {
  for (const char* state :
       {"queued", "running", "succeeded", "failed", "cancelled", "paused", "stopped"}) {
    jobs_.Add({{"state", state}}).Set(0);
    // At 0 from the start (a restart's too): an alert on its increase sees the first job that
    // enters the state, which a series born at 1 would hide.
    transitions_.Add({{"to", state}});
  }
  for (const JobGauge& g : kJobGauges) {
    job_families_[g.value] = &BuildGauge().Name(g.name).Help(g.help).Register(registry);
  }
  // Each kind at 0 from the start, so that the family is scraped (and an alert on its rate, or
  // absent(), works) before the first refusal.
  const google::protobuf::OneofDescriptor* kinds =
      polytrain::v1::WorkerMessage::descriptor()->FindOneofByName("kind");
  for (int i = 0; kinds != nullptr && i < kinds->field_count(); ++i) {
    worker_messages_refused_.Add({{"kind", kinds->field(i)->name()}});
  }
  for (const char* kind : {"metrics", "started", "finished", "failed", "rendezvous"}) {
    worker_messages_dropped_.Add({{"kind", kind}});
  }
  for (const char* protocol : {"client", "worker"}) {
    for (int code : {grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::PERMISSION_DENIED}) {
      auth_refusals_.Add({{"protocol", protocol}, {"code", CodeLabel(code)}});
    }
  }
  // And each client method's successful calls, for the same reason (a restart's first call
  // would otherwise make its series at 1, which increase() does not count).
  const google::protobuf::ServiceDescriptor* service =
      polytrain::v1::SubmitJobRequest::descriptor()->file()->FindServiceByName("Coordinator");
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    rpc_requests_.Add({{"method", service->method(i)->name()}, {"code", CodeLabel(0)}});
  }
}

void CoordinatorMetrics::JobStateChanged(polytrain::v1::JobState from, polytrain::v1::JobState to) {
  if (const std::string f = StateLabel(from); !f.empty()) jobs_.Add({{"state", f}}).Decrement();
  if (const std::string t = StateLabel(to); !t.empty()) {
    jobs_.Add({{"state", t}}).Increment();
    transitions_.Add({{"to", t}}).Increment();
  }
}

void CoordinatorMetrics::SetJobCounts(const std::map<polytrain::v1::JobState, int64_t>& counts) {
  for (const auto& [state, n] : counts) {
    if (const std::string label = StateLabel(state); !label.empty()) {
      jobs_.Add({{"state", label}}).Set(static_cast<double>(n));
    }
  }
}

void CoordinatorMetrics::SetQueueDepth(size_t depth) {
  queue_depth_.Set(static_cast<double>(depth));
}

void CoordinatorMetrics::SetWorkersConnected(size_t workers) {
  workers_connected_.Set(static_cast<double>(workers));
}

void CoordinatorMetrics::JobSubmitted() { submissions_.Increment(); }

void CoordinatorMetrics::JobScheduled(double queued_seconds) {
  scheduling_latency_.Observe(queued_seconds);
}

void CoordinatorMetrics::WorkerMessageRefused(const std::string& kind) {
  worker_messages_refused_.Add({{"kind", kind}}).Increment();
}

void CoordinatorMetrics::WorkerMessageDropped(const std::string& kind) {
  worker_messages_dropped_.Add({{"kind", kind}}).Increment();
}

void CoordinatorMetrics::AuthRefused(const std::string& protocol, int grpc_code) {
  auth_refusals_.Add({{"protocol", protocol}, {"code", CodeLabel(grpc_code)}}).Increment();
}

void CoordinatorMetrics::Rpc(const std::string& method, int grpc_code, double seconds) {
  rpc_requests_.Add({{"method", method}, {"code", CodeLabel(grpc_code)}}).Increment();
  rpc_duration_
      .Add({{"method", method}},
           prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
                                                   0.5, 1, 5, 30, 300, 3600})
      .Observe(seconds);
}

void CoordinatorMetrics::JobProgress(const polytrain::v1::Job& job,
                                     const polytrain::v1::MetricPoint& point) {
  std::lock_guard<std::mutex> lock(mu_);
  JobSeries& series = job_series_[job.id()];
  auto set = [&](const std::string& key, double value) {
    auto& gauge = series.gauges[key];
    if (gauge == nullptr) {
      auto sweep = job.spec().labels().find("sweep");
      gauge = &job_families_.at(key)->Add(
          {{"job_id", job.id()},
           {"job_name", job.spec().name()},
           {"loss", job.loss_name()},
           {"replicas", std::to_string(std::max(1, job.spec().replicas()))},
           {"sweep", sweep == job.spec().labels().end() ? "" : sweep->second}});
    }
    gauge->Set(value);
  };
  for (const auto& [key, value] : point.values()) {
    if (job_families_.count(key) != 0) set(key, value);
  }
  set("step", static_cast<double>(point.step()));
  set("epoch", static_cast<double>(point.epoch()));
  if (series.ended != Clock::time_point::max()) {  // running again (a search trial after a pause)
    series.ended = Clock::time_point::max();
    auto stale = std::find(finished_order_.begin(), finished_order_.end(), job.id());
    if (stale != finished_order_.end()) finished_order_.erase(stale);
  }
}

void CoordinatorMetrics::SearchChanged(const polytrain::v1::Sweep& sweep) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = search_series_.try_emplace(sweep.id());
  if (added) {
    search_order_.push_back(sweep.id());
    while (search_order_.size() > kMaxSearchSeries) {
      DropSearchLocked(search_series_.find(search_order_.front()));
    }
  }
  std::vector<prometheus::Gauge*>& gauges = it->second;
  auto set = [&gauges](prometheus::Gauge& gauge, double value) {
    if (std::find(gauges.begin(), gauges.end(), &gauge) == gauges.end()) gauges.push_back(&gauge);
    gauge.Set(value);
  };
  for (const polytrain::v1::Sweep::Rung& rung : sweep.rungs()) {
    const std::string r = std::to_string(rung.rung());
    const std::pair<const char*, int> counts[] = {{"reported", rung.reported()},
                                                  {"promoted", rung.promoted()},
                                                  {"paused", rung.paused()},
                                                  {"training", rung.active()}};
    for (const auto& [status, n] : counts) {
      set(search_trials_.Add({{"sweep", sweep.id()}, {"rung", r}, {"status", status}}), n);
    }
    if (!std::isnan(rung.best_value())) {
      set(search_best_.Add({{"sweep", sweep.id()}, {"rung", r}, {"metric", sweep.metric()}}),
          rung.best_value());
    }
  }
  set(search_steps_.Add({{"sweep", sweep.id()}}), static_cast<double>(sweep.total_steps()));
}

void CoordinatorMetrics::SweepDeleted(const std::string& sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = search_series_.find(sweep_id); it != search_series_.end()) DropSearchLocked(it);
}

void CoordinatorMetrics::DropSearchLocked(
    std::map<std::string, std::vector<prometheus::Gauge*>>::iterator it) {
  for (prometheus::Gauge* gauge : it->second) {
    search_trials_.Remove(gauge);
    search_best_.Remove(gauge);
    search_steps_.Remove(gauge);
  }
  search_order_.erase(std::remove(search_order_.begin(), search_order_.end(), it->first),
                      search_order_.end());
  search_series_.erase(it);
}

void CoordinatorMetrics::ZeroThroughput(JobSeries& series) {
  for (const char* key : {"samples_per_second", "allreduce_seconds_per_step"}) {
    auto gauge = series.gauges.find(key);
    if (gauge != series.gauges.end()) gauge->second->Set(0);
  }
}

void CoordinatorMetrics::AttemptStopped(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = job_series_.find(job_id);
  if (it != job_series_.end()) ZeroThroughput(it->second);
}

void CoordinatorMetrics::JobEnded(const std::string& job_id, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = job_series_.find(job_id);
  if (it == job_series_.end() || it->second.ended != Clock::time_point::max()) return;
  ZeroThroughput(it->second);
  it->second.ended = now;
  finished_order_.push_back(job_id);
  while (finished_order_.size() > max_finished_) {
    auto oldest = job_series_.find(finished_order_.front());
    finished_order_.pop_front();
    // Gone already when its retention ran out first.
    if (oldest != job_series_.end() && oldest->second.ended != Clock::time_point::max()) {
      DropLocked(oldest);
    }
  }
}

void CoordinatorMetrics::DropExpiredJobSeries(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = job_series_.begin(); it != job_series_.end();) {
    if (it->second.ended != Clock::time_point::max() && now - it->second.ended >= retention_) {
      DropLocked(it++);
    } else {
      ++it;
    }
  }
}

void CoordinatorMetrics::JobDeleted(const std::string& job_id, polytrain::v1::JobState state) {
  if (const std::string label = StateLabel(state); !label.empty()) {
    jobs_.Add({{"state", label}}).Decrement();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = job_series_.find(job_id); it != job_series_.end()) DropLocked(it);
}

void CoordinatorMetrics::DropLocked(std::map<std::string, JobSeries>::iterator it) {
  for (auto& [key, gauge] : it->second.gauges) job_families_.at(key)->Remove(gauge);
  // Its place among the finished goes too: were it to run and end again, a stale place would
  // drop its new series early.
  auto place = std::find(finished_order_.begin(), finished_order_.end(), it->first);
  if (place != finished_order_.end()) finished_order_.erase(place);
  job_series_.erase(it);
}

}  // namespace polytrain
