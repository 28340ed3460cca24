// Every Prometheus series the coordinator exports, built once here with its help text; the
// rest of the coordinator calls these methods and never spells a metric name.
//
// Per-job gauges (train loss, eval loss and accuracy, samples/s, step, epoch) carry the labels
// job_id, job_name, loss (the loss in short words) and sweep; a finished job's series are
// dropped `job_series_retention` after it ends, or sooner when more than
// `max_finished_job_series` finished jobs still have theirs (the oldest first), so memory and
// the /metrics page stay bounded however fast jobs finish.
#ifndef POLYTRAIN_SERVER_COORDINATOR_METRICS_H_
#define POLYTRAIN_SERVER_COORDINATOR_METRICS_H_

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "polytrain/v1/coordinator.pb.h"
#include "polytrain/v1/job_record.pb.h"
#include "polytrain/v1/metrics.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace polytrain {

class CoordinatorMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  CoordinatorMetrics(prometheus::Registry& registry, Clock::duration job_series_retention,
                     size_t max_finished_job_series = 1000);

  // Jobs by state: a transition moves one job from `from` to `to` (UNSPECIFIED: none), and
  // counts one entry into `to`.
  void JobStateChanged(polytrain::v1::JobState from, polytrain::v1::JobState to);
  // Jobs by state as they stand (the coordinator starting on a store that has jobs): sets the
  // jobs-by-state series without counting transitions.
  void SetJobCounts(const std::map<polytrain::v1::JobState, int64_t>& counts);
  void SetQueueDepth(size_t depth);
  void SetWorkersConnected(size_t workers);
  void JobSubmitted();
  // Seconds from the job's (re)queueing to its assignment.
  void JobScheduled(double queued_seconds);
  void Rpc(const std::string& method, int grpc_code, double seconds);
  // A worker's message refused for good (INVALID_ARGUMENT), by its kind (heartbeat, metrics,
  // started, finished, failed, rendezvous, hello, none).
  void WorkerMessageRefused(const std::string& kind);
  // A worker's report about an attempt it does not hold (ended, requeued, another worker's, no
  // such job): acknowledged and dropped, by its kind.
  void WorkerMessageDropped(const std::string& kind);
  // A call refused by access control (a missing, unknown or revoked token, the wrong role, a
  // worker without its certificate), by protocol ("client" or "worker") and code.
  void AuthRefused(const std::string& protocol, int grpc_code);

  // The latest values of a running job, from its metric points.
  void JobProgress(const polytrain::v1::Job& job, const polytrain::v1::MetricPoint& point);
  // An attempt ended without the job ending (requeued: a lapsed lease, a worker gone, a job given
  // back): the job trains nowhere until its next attempt reports, so its throughput is 0.
  void AttemptStopped(const std::string& job_id);
  // Starts the retention clock of a finished (or paused) job's series, its throughput 0; drops
  // the oldest finished job's series beyond max_finished_job_series.
  void JobEnded(const std::string& job_id, Clock::time_point now);
  // Removes the series of jobs that ended more than the retention ago.
  void DropExpiredJobSeries(Clock::time_point now);
  // A job that ended in `state` was deleted: it leaves the jobs-by-state count, and its series
  // go at once.
  void JobDeleted(const std::string& job_id, polytrain::v1::JobState state);

  // A successive-halving search's rungs as they stand (GetSweep's report): trials per rung by
  // status (reported, promoted, paused, training) and each rung's best value, labelled sweep and
  // rung; the series of the oldest searches go beyond kMaxSearchSeries searches.
  void SearchChanged(const polytrain::v1::Sweep& sweep);
  // A sweep was deleted: its search series go.
  void SweepDeleted(const std::string& sweep_id);
  static constexpr size_t kMaxSearchSeries = 100;

 private:
  struct JobSeries {
    std::map<std::string, prometheus::Gauge*> gauges;  // by family name
    Clock::time_point ended = Clock::time_point::max();
  };

  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& workers_connected_;
  prometheus::Counter& submissions_;
  prometheus::Histogram& scheduling_latency_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& worker_messages_refused_;
  prometheus::Family<prometheus::Counter>& worker_messages_dropped_;
  prometheus::Family<prometheus::Counter>& auth_refusals_;
  // Per-job gauge families, by the MetricPoint value they show.
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> job_families_;
  prometheus::Family<prometheus::Gauge>& search_trials_;
  prometheus::Family<prometheus::Gauge>& search_best_;
  prometheus::Family<prometheus::Gauge>& search_steps_;
  Clock::duration retention_;
  size_t max_finished_;

  std::mutex mu_;
  std::map<std::string, JobSeries> job_series_;
  std::deque<std::string> finished_order_;  // ids of finished jobs, oldest first
  std::map<std::string, std::vector<prometheus::Gauge*>> search_series_;  // by sweep id
  std::deque<std::string> search_order_;                                  // oldest first

  void DropLocked(std::map<std::string, JobSeries>::iterator it);
  void DropSearchLocked(std::map<std::string, std::vector<prometheus::Gauge*>>::iterator it);
  static void ZeroThroughput(JobSeries& series);
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_METRICS_H_
