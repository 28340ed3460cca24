#include "api/job_states.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

// Every state's word reads back as that state, in any case; no other word does.
TEST(JobStatesTest, AStatesWordParsesBackAndNothingElseDoes) {
  for (int number = 1; number <= 7; ++number) {
    const auto state = static_cast<polytrain::v1::JobState>(number);
    polytrain::v1::JobState parsed = polytrain::v1::JOB_STATE_UNSPECIFIED;
    EXPECT_TRUE(ParseJobStateWord(JobStateWord(state), &parsed)) << number;
    EXPECT_EQ(parsed, state);
  }
  polytrain::v1::JobState parsed;
  EXPECT_TRUE(ParseJobStateWord("Succeeded", &parsed));
  EXPECT_EQ(parsed, polytrain::v1::JOB_STATE_SUCCEEDED);
  for (const char* word : {"unspecified", "", "done", "JOB_STATE_QUEUED", "queued "}) {
    EXPECT_FALSE(ParseJobStateWord(word, &parsed)) << word;
  }
  EXPECT_TRUE(IsFinalState(polytrain::v1::JOB_STATE_STOPPED));
  EXPECT_FALSE(IsFinalState(polytrain::v1::JOB_STATE_PAUSED));
}

// A newer coordinator's state or metric kind reads as itself, never as a known one (probe DC:
// blank, and "train").
TEST(JobStatesTest, AValueThisBuildDoesNotKnowIsSaidAsIt) {
  EXPECT_EQ(JobStateWord(static_cast<polytrain::v1::JobState>(8)), "unknown(8)");
  EXPECT_EQ(JobStateWord(static_cast<polytrain::v1::JobState>(-1)), "unknown(-1)");
  EXPECT_EQ(MetricKindWord(polytrain::v1::MetricPoint::KIND_TRAIN), "train");
  EXPECT_EQ(MetricKindWord(polytrain::v1::MetricPoint::KIND_EVAL), "eval");
  EXPECT_EQ(MetricKindWord(static_cast<polytrain::v1::MetricPoint::Kind>(3)), "unknown(3)");
}

}  // namespace
}  // namespace polytrain
