#include "server/sweep_expansion.h"

#include "api/client_requests.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(SweepExpansionTest, IdsOfRetriesAreStableAndOthersDiffer) {
  // A fixed value: the id of a retried sweep may not depend on the build or the run.
  EXPECT_EQ(SweepId("alice", "r1"), "sweep-20faa5619149");  // SHA-256 of "alice\x1fr1"
  EXPECT_EQ(SweepId("alice", "r1"), SweepId("alice", "r1"));
  EXPECT_NE(SweepId("alice", "r1"), SweepId("bob", "r1"));
  EXPECT_NE(SweepId("", ""), SweepId("", ""));  // no request id: a fresh sweep each time
  EXPECT_EQ(SweepId("", "").size(), 18u);
}

TEST(SweepExpansionTest, EveryLossTimesEverySeedNamedAndLabelled) {
  polytrain::v1::SubmitSweepRequest request;
  request.mutable_base()->set_name("base");
  request.mutable_base()->set_seed(7);
  (*request.mutable_base()->mutable_labels())["team"] = "v";
  request.add_losses()->mutable_cross_entropy();
  request.add_losses()->mutable_focal()->set_gamma(2);
  request.set_seeds(2);
  request.set_client_request_id("r");
  loss::LossConfig ce, focal;
  focal.series.gamma = 2;
  const std::vector<polytrain::v1::Job> jobs =
      ExpandSweep(request, {ce, focal}, "sweep-x", "alice");
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].spec().name(), "base-ce-s7");
  EXPECT_EQ(jobs[1].spec().name(), "base-ce-s8");
  EXPECT_EQ(jobs[3].spec().name(), "base-focal-g-2-s8");
  EXPECT_EQ(jobs[3].spec().seed(), 8u);
  EXPECT_TRUE(jobs[3].spec().loss().has_focal());
  EXPECT_EQ(jobs[3].loss_name(), "focal(g=2)");
  EXPECT_EQ(jobs[3].spec().labels().at("sweep"), "sweep-x");
  EXPECT_EQ(jobs[3].spec().labels().at("loss"), "focal-g-2");
  EXPECT_EQ(jobs[3].spec().labels().at("team"), "v");
  EXPECT_EQ(jobs[3].owner(), "alice");
  EXPECT_EQ(jobs[3].client_request_id(), "r/1/1");
  EXPECT_EQ(jobs[3].state(), polytrain::v1::JOB_STATE_QUEUED);
}

}  // namespace
}  // namespace polytrain
