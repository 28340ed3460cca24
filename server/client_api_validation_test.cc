// The client API refuses what is wrong field by field (list requests, specs, a loss that cannot
// be minimized, a history too large for one answer) and checks a dry run as a submit, storing
// nothing.
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

// A history too large for one answer is refused naming max_points, with a count that fits,
// rather than by gRPC's send; downsampled to that count it is answered.
TEST_F(CoordinatorTest, AHistoryOverTheMessageLimitAsksForMaxPoints) {
  const Job job = Submit("long");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  for (int batch = 0; batch < 5; ++batch) {  // 5000 points of 256 values: about 20 MiB
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job.id());
    message.mutable_metrics()->set_attempt(1);
    for (int i = 0; i < 1000; ++i) {
      polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
      point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
      point->set_step(batch * 1000 + i + 1);
      for (int v = 0; v < 256; ++v) (*point->mutable_values())["value" + std::to_string(v)] = v;
    }
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  const absl::Status all = api_->GetMetrics(request, kAdmin).status();
  EXPECT_EQ(all.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(all.message().find("max_points: 5000 points are "), 0u) << all;
  const size_t ask = all.message().find("ask for at most ");
  ASSERT_NE(ask, std::string::npos) << all;
  const int fit = std::stoi(std::string(all.message().substr(ask + 16)));
  EXPECT_GT(fit, 1000);
  EXPECT_LT(fit, 5000);
  request.set_max_points(fit);
  const absl::StatusOr<polytrain::v1::GetMetricsResponse> thinned =
      api_->GetMetrics(request, kAdmin);
  ASSERT_TRUE(thinned.ok()) << thinned.status();
  EXPECT_EQ(thinned->points_size(), fit);
  EXPECT_EQ(thinned->points(fit - 1).step(), 5000);  // the newest is always there
  // One point is the newest, read by its key (an eval point at the last step comes after the
  // train point there).
  polytrain::v1::WorkerMessage eval;
  eval.mutable_metrics()->set_job_id(job.id());
  eval.mutable_metrics()->set_attempt(1);
  polytrain::v1::MetricPoint* last = eval.mutable_metrics()->add_points();
  last->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
  last->set_step(5000);
  (*last->mutable_values())["eval_accuracy"] = 0.5;
  ASSERT_TRUE(protocol_->Handle(session, eval).ok());
  request.set_max_points(1);
  const absl::StatusOr<polytrain::v1::GetMetricsResponse> newest =
      api_->GetMetrics(request, kAdmin);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->points_size(), 1);
  EXPECT_EQ(newest->points(0).SerializeAsString(), last->SerializeAsString());
  polytrain::v1::GetMetricsRequest none;  // a job with no points yet: an empty answer
  none.set_job_id(Submit("fresh").id());
  none.set_max_points(1);
  EXPECT_EQ(api_->GetMetrics(none, kAdmin)->points_size(), 0);
}

// max_points N of a longer history: the points at k * (n - 1) / (N - 1), the first and the
// newest included, each once, in the history's order (train before eval at one step).
TEST_F(CoordinatorTest, MaxPointsSpreadsThePointsEvenlyOverTheHistory) {
  const Job job = Submit("spread");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage message;
  message.mutable_metrics()->set_job_id(job.id());
  message.mutable_metrics()->set_attempt(1);
  for (int step = 1; step <= 9; ++step) {
    for (const auto kind :
         {polytrain::v1::MetricPoint::KIND_TRAIN, polytrain::v1::MetricPoint::KIND_EVAL}) {
      if (kind == polytrain::v1::MetricPoint::KIND_EVAL && step % 3 != 0) continue;
      polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
      point->set_kind(kind);
      point->set_step(step);
      (*point->mutable_values())["loss"] = step;
    }
  }
  ASSERT_TRUE(protocol_->Handle(session, message).ok());
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(job.id());
  const absl::StatusOr<polytrain::v1::GetMetricsResponse> all = api_->GetMetrics(request, kAdmin);
  ASSERT_TRUE(all.ok()) << all.status();
  const int n = all->points_size();
  ASSERT_EQ(n, 12);
  for (int count = 2; count <= n + 2; ++count) {
    request.set_max_points(count);
    const absl::StatusOr<polytrain::v1::GetMetricsResponse> spread =
        api_->GetMetrics(request, kAdmin);
    ASSERT_TRUE(spread.ok()) << spread.status();
    ASSERT_EQ(spread->points_size(), std::min(count, n)) << count;
    for (int k = 0; k < spread->points_size(); ++k) {
      const int index = count >= n ? k : k * (n - 1) / (count - 1);
      EXPECT_EQ(spread->points(k).SerializeAsString(), all->points(index).SerializeAsString())
          << "max_points " << count << ", point " << k;
    }
  }
}

TEST_F(CoordinatorTest, ListRequestsAreValidatedFieldByField) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"page_size: -1", "page_size: must be in [0, 1000], got -1"},
           {"page_size: 1001", "page_size: must be in [0, 1000], got 1001"},
           {"states: 9", "states[0]: unknown state 9"},
           {"states: JOB_STATE_UNSPECIFIED", "states[0]: unknown state 0"},
           {"labels { key: 'Team' value: 'x' }", "labels[\"Team\"]: keys use only [a-z0-9._-/]"},
           {"labels { key: '' value: 'x' }", "labels[\"\"]: length must be in [1, 63]"},
           {"labels { key: 'k' value: '" + std::string(257, 'v') + "' }",
            "labels[\"k\"]: length must be in [0, 256] characters, got 257"},
           {"page_token: 'abc'", "page_token: not a token from a previous ListJobs"},
           {"page_token: '" + std::string(33, '1') + "'",
            "page_token: length must be in [0, 32] characters, got 33"},
           {"owner: '" + std::string(65, 'o') + "'",
            "owner: length must be in [0, 64] characters, got 65"},
           {"owner: 'bad name!'", "owner: use only [A-Za-z0-9._-], got 'bad name!'"},
       }) {
    polytrain::v1::ListJobsRequest request;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(c.text, &request)) << c.text;
    absl::StatusOr<polytrain::v1::ListJobsResponse> response = api_->ListJobs(request, kAdmin);
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(response.status().message().substr(0, c.error.size()), c.error) << c.text;
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += "labels { key: 'k" + std::to_string(i) + "' value: 'v' } ";
  polytrain::v1::ListJobsRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(many, &request));
  EXPECT_EQ(api_->ListJobs(request, kAdmin).status().message(),
            "labels: at most 32 labels, got 33");
  request.mutable_labels()->erase("k32");  // 32 is the limit itself
  EXPECT_TRUE(api_->ListJobs(request, kAdmin).ok());
  request.set_owner("Al.ice_2-" + std::string(55, 'x'));  // every character a name may have
  EXPECT_TRUE(api_->ListJobs(request, kAdmin).ok());
}

TEST_F(CoordinatorTest, ATrainingJobMustReduceItsLoss) {
  polytrain::v1::SubmitJobRequest request = Request("per-sample");
  request.mutable_spec()->mutable_loss()->set_reduction(polytrain::v1::REDUCTION_NONE);
  const absl::Status status = api_->SubmitJob(request, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.loss.reduction: a training job needs REDUCTION_MEAN or REDUCTION_SUM, got "
            "REDUCTION_NONE");
}

TEST_F(CoordinatorTest, ErrorsNameTheRequestFieldThatIsWrong) {
  const Job job = Submit("known");
  RecordingChannel channel;
  Finish(Connect("w", &channel), job, {{"eval_accuracy", 0.9}});
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  compare.add_job_ids("job-000000000000");
  absl::Status status = api_->CompareJobs(compare, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "job_ids[1]: no job job-000000000000");
  polytrain::v1::GetMetricsRequest metrics;
  metrics.set_job_id("job-000000000000");
  EXPECT_EQ(api_->GetMetrics(metrics, kAdmin).status().message(),
            "job_id: no job job-000000000000");

  // A metric no job reports is a mistake, not an empty comparison.
  compare.mutable_job_ids()->RemoveLast();
  compare.set_metric("eval_acuracy");
  status = api_->CompareJobs(compare, kAdmin).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 46), "metric: no job reports 'eval_acuracy' (they re");
}

TEST_F(CoordinatorTest, ValidateOnlyChecksEverythingAndStoresNothing) {
  polytrain::v1::SubmitJobRequest job = Request("dry");
  job.set_validate_only(true);
  absl::StatusOr<Job> checked = api_->SubmitJob(job, Caller::Client("alice"));
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->id(), "");
  EXPECT_EQ(checked->state(), polytrain::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(checked->owner(), "alice");
  EXPECT_EQ(checked->loss_name(), "ce");
  job.mutable_spec()->set_batch_size(0);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice")).status().message(),
            "spec.batch_size: must be in [1, 65536], got 0");

  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("dry-grid").spec();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.add_losses()->mutable_poly1()->set_epsilon(2);
  sweep.set_seeds(2);
  sweep.set_validate_only(true);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> planned =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->sweep_id(), "");
  std::vector<std::string> names;
  for (const Job& planned_job : planned->jobs()) {
    names.push_back(planned_job.spec().name());
    EXPECT_EQ(planned_job.id(), "");
    EXPECT_FALSE(planned_job.spec().labels().contains("sweep"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dry-grid-ce-s0", "dry-grid-ce-s1",
                                             "dry-grid-poly1-e-2-s0", "dry-grid-poly1-e-2-s1"}));
  sweep.set_seeds(101);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice")).status().message(),
            "seeds: must be in [0, 100], got 101");

  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 0);
  // The real submit afterwards is unaffected by the checks before it.
  sweep.set_seeds(1);
  sweep.set_validate_only(false);
  sweep.set_client_request_id("dry-sweep");
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> stored =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);

  // A request id is checked as a submit checks it: a retry is answered with what is stored,
  // another request under the same id is refused, before anything is uploaded for it.
  sweep.set_validate_only(true);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice"))->sweep_id(), stored->sweep_id());
  sweep.add_losses()->mutable_focal()->set_gamma(2);
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice")).status().code(),
            absl::StatusCode::kAlreadyExists);
  job.mutable_spec()->set_batch_size(2);
  job.set_client_request_id("dry-job");
  job.set_validate_only(false);
  const std::string job_id = api_->SubmitJob(job, Caller::Client("alice"))->id();
  job.set_validate_only(true);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice"))->id(), job_id);
  job.mutable_spec()->set_batch_size(4);
  EXPECT_EQ(api_->SubmitJob(job, Caller::Client("alice")).status().message(),
            "client_request_id: 'dry-job' already names job " + job_id +
                ", submitted with another spec; use a new id for a new job");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 3);
}

}  // namespace
}  // namespace polytrain
