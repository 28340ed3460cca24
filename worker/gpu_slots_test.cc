#include "worker/gpu_slots.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(ParseGpuListTest, AcceptsDistinctIndices) {
  EXPECT_EQ(*ParseGpuList("0", "--gpus"), (std::vector<int>{0}));
  EXPECT_EQ(*ParseGpuList("3,0,1023", "--gpus"), (std::vector<int>{3, 0, 1023}));
  std::string many;
  for (int i = 0; i < kMaxGpusPerWorker; ++i) many += (i ? "," : "") + std::to_string(i);
  EXPECT_EQ(ParseGpuList(many, "--gpus")->size(), 64u);  // the limit itself
}

TEST(ParseGpuListTest, NamesTheFlagInEveryError) {
  EXPECT_EQ(ParseGpuList("", "--gpus").status().message(),
            "--gpus: expected GPU indices in [0, 1023] separated by commas, got ''");
  EXPECT_EQ(ParseGpuList("0,x", "--gpus").status().message(),
            "--gpus: expected GPU indices in [0, 1023] separated by commas, got 'x'");
  EXPECT_EQ(ParseGpuList("-1", "--gpus").status().message(),
            "--gpus: expected GPU indices in [0, 1023] separated by commas, got '-1'");
  EXPECT_EQ(ParseGpuList("1024", "--gpus").status().message(),
            "--gpus: expected GPU indices in [0, 1023] separated by commas, got '1024'");
  EXPECT_EQ(ParseGpuList("0,1,0", "--gpus").status().message(), "--gpus: GPU 0 is listed twice");
  EXPECT_EQ(ParseGpuList("0,,1", "--gpus").status().code(), absl::StatusCode::kInvalidArgument);
  std::string too_many;
  for (int i = 0; i <= kMaxGpusPerWorker; ++i) too_many += (i ? "," : "") + std::to_string(i);
  EXPECT_EQ(ParseGpuList(too_many, "--gpus").status().message(), "--gpus: at most 64 GPUs, got 65");
}

TEST(GpuSlotsTest, OneJobPerGpuAndAJobKeepsItsGpu) {
  GpuSlots slots({2, 5});
  EXPECT_EQ(slots.Acquire("a"), 2);
  EXPECT_EQ(slots.Acquire("b"), 5);
  EXPECT_EQ(slots.Acquire("a"), 2);  // asked again: the same GPU
  EXPECT_EQ(slots.Acquire("c"), std::nullopt);
  EXPECT_EQ(slots.JobOn(2), "a");
  EXPECT_EQ(slots.JobOn(5), "b");
  slots.Release("a");
  EXPECT_EQ(slots.JobOn(2), "");
  EXPECT_EQ(slots.Acquire("c"), 2);
  slots.Release("unknown");  // nothing held: nothing happens
  EXPECT_EQ(slots.JobOn(5), "b");
}

}  // namespace
}  // namespace polytrain
