#include "api/client_requests.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::SubmitSweepRequest;

SubmitSweepRequest Sweep(const std::string& text) {
  SubmitSweepRequest request;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(base {
           name: "base"
           model { mlp {} }
           dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
           optimizer { sgd {} learning_rate: 0.1 }
           epochs: 1
           batch_size: 2
         }
         losses { cross_entropy {} }
         losses { poly1 { epsilon: 2 } })",
      &request));
  SubmitSweepRequest overrides;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &overrides)) << text;
  request.MergeFrom(overrides);
  return request;
}

TEST(ClientRequestsTest, ASweepValidatesEachLossOnceAndReturnsItsCanonicalForm) {
  absl::StatusOr<SweepPlan> plan = ValidateSubmitSweepRequest(Sweep(""));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->losses.size(), 2u);
  EXPECT_TRUE(plan->losses.at(0).series.extra.empty());
  EXPECT_EQ(plan->losses.at(1).series.extra, std::vector<double>{2.0});
  EXPECT_EQ(plan->request.losses_size(), 2);
  // A base's own loss (a job file used as the base) is dropped, not kept beside the sweep's.
  absl::StatusOr<SweepPlan> with_loss =
      ValidateSubmitSweepRequest(Sweep("base { loss { focal { gamma: 3 } } }"));
  ASSERT_TRUE(with_loss.ok()) << with_loss.status();
  EXPECT_FALSE(with_loss->request.base().has_loss());
  EXPECT_EQ(
      ValidateSubmitSweepRequest(Sweep("losses { poly1 { epsilon: -2 } }")).status().message(),
      "losses[2].poly1.epsilon: must be >= -1, got -2");
  EXPECT_EQ(ValidateSubmitSweepRequest(Sweep("losses { focal {} reduction: REDUCTION_NONE }"))
                .status()
                .message(),
            "losses[2].reduction: a training job needs REDUCTION_MEAN or REDUCTION_SUM, got "
            "REDUCTION_NONE");
  EXPECT_EQ(ValidateSubmitSweepRequest(Sweep("losses { focal { gamma: 2 } class_weights: [1] }"))
                .status()
                .message(),
            "losses[2].class_weights: has 1 entries but the dataset has 2 classes");
  SubmitSweepRequest drawn = Sweep(
      "search { strategy: STRATEGY_RANDOM trials: 2 loss { poly1 {} class_weights: [1, 2, "
      "3] } ranges { field: 'poly1.epsilon' min: 0 max: 1 } }");
  drawn.clear_losses();
  EXPECT_EQ(ValidateSubmitSweepRequest(drawn).status().message(),
            "search.loss.class_weights: has 3 entries but the dataset has 2 classes");
}

TEST(ClientRequestsTest, ASweepsBaseNameMustLeaveRoomForEveryJobsSuffix) {
  // "<base>-poly1-e-2-s<seed>": the longest name is poly1's with the last seed, 10 here.
  const std::string suffix = "-poly1-e-2-s10";
  const std::string fits(128 - suffix.size(), 'b');
  SubmitSweepRequest request = Sweep("seeds: 2");
  request.mutable_base()->set_name(fits);
  request.mutable_base()->set_seed(9);
  EXPECT_TRUE(ValidateSubmitSweepRequest(request).ok());
  request.mutable_base()->set_name(fits + "b");
  const absl::Status status = ValidateSubmitSweepRequest(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 68),
            "base.name: too long for this sweep: the job of losses[1] would be na");
  request.mutable_base()->set_name("bad name");
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "base.name: use only [A-Za-z0-9._-], got 'bad name'");
  request.mutable_base()->clear_name();
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "base.name: length must be in [1, 128] characters, got 0");
}

TEST(ClientRequestsTest, ASweepsBaseLeavesRoomForTheSweepAndLossLabels) {
  SubmitSweepRequest request = Sweep("");
  for (int i = 0; i < 30; ++i) (*request.mutable_base()->mutable_labels())["k" + std::to_string(i)];
  EXPECT_TRUE(ValidateSubmitSweepRequest(request).ok());
  (*request.mutable_base()->mutable_labels())["k30"];
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "base.labels: at most 30 labels in a sweep's base (each job also gets 'sweep' and "
            "'loss'), got 31");
  // Past a job's own limit too: the base's limit is said, not the job's (probe DJ).
  for (int i = 31; i < 33; ++i)
    (*request.mutable_base()->mutable_labels())["k" + std::to_string(i)];
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "base.labels: at most 30 labels in a sweep's base (each job also gets 'sweep' and "
            "'loss'), got 33");
}

TEST(ClientRequestsTest, ASweepIdIsOfTheFormSubmitSweepGives) {
  EXPECT_TRUE(ValidateSweepId("id", "sweep-0123456789ab").ok());
  for (const char* wrong : {"sweep-XYZ", "sweep-0000000000000", "sweep-00000000000",
                            "job-0123456789ab", "sweep-0123456789AB", "Sweep-0123456789ab"}) {
    EXPECT_EQ(ValidateSweepId("id", wrong).message(),
              absl::StrCat("id: not a sweep id (\"sweep-\" and 12 lowercase hex digits, as "
                           "SubmitSweep gives it): '",
                           wrong, "'"));
  }
  EXPECT_EQ(ValidateSweepId("id", "").message(), "id: must be set");
  polytrain::v1::GetSweepRequest get;
  get.set_id("sweep-XYZ");
  EXPECT_EQ(ValidateGetSweepRequest(get).code(), absl::StatusCode::kInvalidArgument);
  polytrain::v1::CompareJobsRequest compare;
  compare.set_sweep_id("sweep-XYZ");
  EXPECT_EQ(ValidateCompareJobsRequest(compare).message().substr(0, 21), "sweep_id: not a sweep");
}

TEST(ClientRequestsTest, IdsAreOfTheCharactersTheCoordinatorGivesAndQuotedWhenNot) {
  EXPECT_TRUE(ValidateJobId("id", "job-00000000000a").ok());
  EXPECT_TRUE(ValidateJobId("id", "sweep-000000000001").ok());
  EXPECT_EQ(ValidateJobId("id", std::string("job-\0", 5)).message(),
            "id: not an id (use only [A-Za-z0-9._-]): 'job-\\x00'");
  EXPECT_EQ(ValidateJobId("id", "\n").message(), "id: not an id (use only [A-Za-z0-9._-]): '\\n'");
  EXPECT_EQ(ValidateJobId("id", "../etc").message(),
            "id: not an id (use only [A-Za-z0-9._-]): '../etc'");
  polytrain::v1::GetSweepRequest sweep;
  sweep.set_id("sweep 1");
  EXPECT_EQ(ValidateGetSweepRequest(sweep).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientRequestsTest, AWatchResumesAfterAPointOfAKindAtAStepInRange) {
  polytrain::v1::WatchJobRequest request;
  request.set_id("job-0123456789ab");
  EXPECT_TRUE(ValidateWatchJobRequest(request).ok());
  request.mutable_resume_after()->set_step(0);
  EXPECT_EQ(ValidateWatchJobRequest(request).message(),
            "resume_after.kind: must be KIND_TRAIN or KIND_EVAL, got 0");
  request.mutable_resume_after()->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
  EXPECT_TRUE(ValidateWatchJobRequest(request).ok());
  request.mutable_resume_after()->set_step(1'000'000'000);
  EXPECT_TRUE(ValidateWatchJobRequest(request).ok());
  request.mutable_resume_after()->set_step(-1);
  EXPECT_EQ(ValidateWatchJobRequest(request).message(),
            "resume_after.step: must be in [0, 1000000000], got -1");
}

TEST(ClientRequestsTest, SweepGridLimits) {
  EXPECT_EQ(ValidateSubmitSweepRequest(Sweep("seeds: 101")).status().message(),
            "seeds: must be in [0, 100], got 101");
  SubmitSweepRequest request = Sweep("seeds: 100");
  for (int i = 0; i < 9; ++i) request.add_losses()->mutable_poly1()->set_epsilon(i + 3);
  ASSERT_EQ(request.losses_size(), 11);
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "seeds: losses x seeds must be at most 1000, got 1100");
  request.mutable_losses()->RemoveLast();
  EXPECT_TRUE(ValidateSubmitSweepRequest(request).ok());  // 10 x 100: the limit itself
  request.set_client_request_id(std::string(113, 'r'));
  EXPECT_EQ(ValidateSubmitSweepRequest(request).status().message(),
            "client_request_id: length must be in [0, 112] characters, got 113");
}

TEST(ClientRequestsTest, CompareRequestsBoundWhatTheyEcho) {
  polytrain::v1::CompareJobsRequest request;
  request.add_job_ids("job-1");
  request.set_baseline_loss(std::string(8000, 'x'));
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "baseline_loss: length must be in [0, 128] characters, got 8000");
  request.clear_baseline_loss();
  request.set_metric(std::string(129, 'm'));
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "metric: length must be in [0, 128] characters, got 129");
  request.clear_metric();
  request.set_group_by(std::string(63, 'k'));  // a label key's longest
  EXPECT_TRUE(ValidateCompareJobsRequest(request).ok());
  request.set_group_by(std::string(64, 'k'));
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "group_by: length must be in [1, 63] characters, got 64");
  request.set_group_by("Sweep");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(), "group_by: keys use only [a-z0-9._-/]");
  request.clear_group_by();
  request.add_job_ids("job-2");
  request.add_job_ids("job-1");  // one run counted twice would look like two agreeing seeds
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "job_ids[2]: job-1 is also job_ids[0]; name each job once");
  request.set_job_ids(2, "");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(), "job_ids[2]: must be set");
  request.set_sweep_id("sweep-1");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "job_ids: give job_ids or a sweep_id, not both (sweep_ids go with job_ids)");
}

TEST(ClientRequestsTest, CompareSweepIdsAreSweepsEachNamedOnce) {
  polytrain::v1::CompareJobsRequest request;
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "job_ids: give job_ids, sweep_ids (or both), or a sweep_id");
  request.add_job_ids("job-1");
  for (int i = 0; i < 100; ++i) request.add_sweep_ids(absl::StrFormat("sweep-%012x", i));
  EXPECT_TRUE(ValidateCompareJobsRequest(request).ok());  // at the limit
  request.add_sweep_ids("sweep-0000000000ff");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "sweep_ids: at most 100 sweeps, got 101");
  request.clear_sweep_ids();
  request.add_sweep_ids("sweep-000000000001");
  request.add_sweep_ids("job-1");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message().substr(0, 27),
            "sweep_ids[1]: not a sweep i");
  request.set_sweep_ids(1, "sweep-000000000001");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "sweep_ids[1]: sweep-000000000001 is also sweep_ids[0]; name each sweep once");
  request.mutable_sweep_ids()->RemoveLast();
  request.clear_job_ids();
  EXPECT_TRUE(ValidateCompareJobsRequest(request).ok());  // sweeps alone
  request.set_sweep_id("sweep-000000000002");
  EXPECT_EQ(ValidateCompareJobsRequest(request).message(),
            "sweep_ids: give sweep_ids or a sweep_id, not both (sweep_ids takes any number)");
}

TEST(ClientRequestsTest, SweepJobNamesAndLossParts) {
  EXPECT_EQ(SweepLossPart("poly1(e=2)"), "poly1-e-2");
  EXPECT_EQ(SweepLossPart("sigmoid_poly1_focal(g=2,e=1),ls=0.1"),
            "sigmoid_poly1_focal-g-2-e-1-ls-0.1");
  EXPECT_EQ(SweepJobName("fmnist", "ce", 3), "fmnist-ce-s3");
}

}  // namespace
}  // namespace polytrain
