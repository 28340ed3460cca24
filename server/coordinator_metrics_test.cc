#include "server/coordinator_metrics.h"

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace polytrain {
namespace {

std::string Exposition(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(CoordinatorMetricsTest, FinishedJobSeriesAreDroppedAfterTheRetention) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  polytrain::v1::Job job;
  job.set_id("job-1");
  job.mutable_spec()->set_name("n");
  job.set_loss_name("ce");
  (*job.mutable_spec()->mutable_labels())["sweep"] = "sweep-7";
  polytrain::v1::MetricPoint point;
  point.set_step(5);
  (*point.mutable_values())["eval_accuracy"] = 0.5;
  metrics.JobProgress(job, point);
  // A gauge of a value the job does not report (eval_f1: multi-label data) has no series of it.
  EXPECT_EQ(Exposition(registry).find("polytrain_job_eval_f1{"), std::string::npos);
  const std::string series =
      "polytrain_job_eval_accuracy{job_id=\"job-1\",job_name=\"n\",loss=\"ce\",replicas=\"1\","
      "sweep=\"sweep-7\"} "
      "0.5";
  EXPECT_NE(Exposition(registry).find(series), std::string::npos) << Exposition(registry);

  const auto ended = CoordinatorMetrics::Clock::now();
  metrics.JobEnded("job-1", ended);
  metrics.DropExpiredJobSeries(ended + std::chrono::minutes(9));
  EXPECT_NE(Exposition(registry).find(series), std::string::npos);
  metrics.DropExpiredJobSeries(ended + std::chrono::minutes(10));
  EXPECT_EQ(Exposition(registry).find("job-1"), std::string::npos);
  // Multi-label data's F1 has its gauge.
  (*point.mutable_values())["eval_f1"] = 0.75;
  metrics.JobProgress(job, point);
  EXPECT_NE(Exposition(registry).find("polytrain_job_eval_f1{job_id=\"job-1\",job_name=\"n\","
                                      "loss=\"ce\",replicas=\"1\",sweep=\"sweep-7\"} 0.75"),
            std::string::npos)
      << Exposition(registry);
}

// A requeued or ended job trains nowhere: its throughput goes to 0, its other values stay.
TEST(CoordinatorMetricsTest, AJobNotTrainingShowsNoThroughput) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  polytrain::v1::Job job;
  job.set_id("job-1");
  polytrain::v1::MetricPoint point;
  point.set_step(150);
  (*point.mutable_values())["samples_per_second"] = 966.5;
  metrics.JobProgress(job, point);
  const std::string labels = "{job_id=\"job-1\",job_name=\"\",loss=\"\",replicas=\"1\",sweep=\"\"}";
  EXPECT_NE(Exposition(registry).find("polytrain_job_samples_per_second" + labels + " 966.5"),
            std::string::npos)
      << Exposition(registry);
  metrics.AttemptStopped("job-1");
  EXPECT_NE(Exposition(registry).find("polytrain_job_samples_per_second" + labels + " 0"),
            std::string::npos)
      << Exposition(registry);
  EXPECT_NE(Exposition(registry).find("polytrain_job_step" + labels + " 150"), std::string::npos);
  metrics.JobProgress(job, point);  // the next attempt reports
  metrics.JobEnded("job-1", CoordinatorMetrics::Clock::now());
  EXPECT_NE(Exposition(registry).find("polytrain_job_samples_per_second" + labels + " 0"),
            std::string::npos)
      << Exposition(registry);
  metrics.AttemptStopped("job-unknown");  // no series: nothing to do
}

TEST(CoordinatorMetricsTest, AtMostTheNewestFinishedJobsKeepTheirSeries) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::hours(1), /*max_finished_job_series=*/2);
  polytrain::v1::MetricPoint point;
  point.set_step(1);
  const auto now = CoordinatorMetrics::Clock::now();
  for (const char* id : {"job-a", "job-b", "job-c", "job-d"}) {
    polytrain::v1::Job job;
    job.set_id(id);
    metrics.JobProgress(job, point);
  }
  metrics.JobEnded("job-a", now);
  metrics.JobEnded("job-b", now);
  metrics.JobEnded("job-b", now);                                    // twice: counted once
  EXPECT_NE(Exposition(registry).find("job-a"), std::string::npos);  // at the cap, not over
  metrics.JobEnded("job-c", now);
  const std::string text = Exposition(registry);
  EXPECT_EQ(text.find("job-a"), std::string::npos) << text;  // the oldest finished one
  for (const char* kept : {"job-b", "job-c", "job-d"}) {     // job-d still runs
    EXPECT_NE(text.find(kept), std::string::npos) << kept;
  }
}

TEST(CoordinatorMetricsTest, AJobBackAfterItsSeriesExpiredCountsAsNewlyFinished) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10), /*max_finished_job_series=*/2);
  polytrain::v1::MetricPoint point;
  point.set_step(1);
  polytrain::v1::Job a, b;
  a.set_id("job-a");
  b.set_id("job-b");
  const auto now = CoordinatorMetrics::Clock::now();
  metrics.JobProgress(a, point);
  metrics.JobEnded("job-a", now);
  metrics.DropExpiredJobSeries(now + std::chrono::minutes(11));  // a paused trial, long idle
  metrics.JobProgress(a, point);                                 // promoted: it runs again
  metrics.JobEnded("job-a", now + std::chrono::minutes(12));
  metrics.JobProgress(b, point);
  metrics.JobEnded("job-b", now + std::chrono::minutes(13));
  // Two finished, at the cap: both keep their series (job-a's old place in line is gone).
  const std::string text = Exposition(registry);
  EXPECT_NE(text.find("job-a"), std::string::npos) << text;
  EXPECT_NE(text.find("job-b"), std::string::npos) << text;
}

TEST(CoordinatorMetricsTest, JobsByStateFollowTransitions) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  metrics.JobStateChanged(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_QUEUED);
  metrics.JobStateChanged(polytrain::v1::JOB_STATE_UNSPECIFIED, polytrain::v1::JOB_STATE_QUEUED);
  metrics.JobStateChanged(polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING);
  const std::string text = Exposition(registry);
  EXPECT_NE(text.find("polytrain_jobs{state=\"queued\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("polytrain_job_transitions_total{to=\"queued\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("polytrain_job_transitions_total{to=\"running\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("polytrain_jobs{state=\"running\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("polytrain_jobs{state=\"failed\"} 0"), std::string::npos) << text;
  // Every state's count is there from the start, at 0 (an alert's increase() sees the first),
  // and every client method's successful calls.
  EXPECT_NE(text.find("polytrain_job_transitions_total{to=\"failed\"} 0"), std::string::npos)
      << text;
  EXPECT_NE(text.find("polytrain_rpc_requests_total{code=\"OK\",method=\"DeleteArtifact\"} 0"),
            std::string::npos)
      << text;
}

// Refused worker messages are scraped at 0 per kind before the first one, so that an alert on
// their rate (or absent()) sees the family; then each refusal counts.
TEST(CoordinatorMetricsTest, RefusedWorkerMessagesAreCountedFromZero) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry, std::chrono::minutes(10));
  std::string text = Exposition(registry);
  for (const char* kind : {"hello", "heartbeat", "metrics", "started", "finished", "failed"}) {
    EXPECT_NE(
        text.find(std::string("polytrain_worker_messages_refused_total{kind=\"") + kind + "\"} 0"),
        std::string::npos)
        << kind << "\n"
        << text;
  }
  metrics.WorkerMessageRefused("metrics");
  text = Exposition(registry);
  EXPECT_NE(text.find("polytrain_worker_messages_refused_total{kind=\"metrics\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace polytrain
