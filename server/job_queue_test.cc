#include "server/job_queue.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

polytrain::v1::Job JobOf(const std::string& id, int priority, bool cuda = false) {
  polytrain::v1::Job job;
  job.set_id(id);
  job.mutable_spec()->set_priority(priority);
  job.mutable_spec()->set_device(cuda ? polytrain::v1::DEVICE_CUDA : polytrain::v1::DEVICE_CPU);
  return job;
}

std::vector<std::string> Drain(JobQueue& queue, bool cuda) {
  std::vector<std::string> order;
  while (std::optional<JobQueue::Entry> next = queue.Next(cuda)) {
    order.push_back(next->job_id);
    EXPECT_TRUE(queue.Remove(next->job_id));
  }
  return order;
}

TEST(JobQueueTest, HighestPriorityFirstThenOldest) {
  JobQueue queue;
  const auto now = JobQueue::Clock::now();
  queue.Push(JobOf("low-1", 0), now);
  queue.Push(JobOf("high", 5), now);
  queue.Push(JobOf("low-2", 0), now);
  queue.Push(JobOf("mid", 1), now);
  EXPECT_EQ(Drain(queue, false), (std::vector<std::string>{"high", "mid", "low-1", "low-2"}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(JobQueueTest, CudaJobsOnlyForWorkersWithAGpuInTheOneOrder) {
  JobQueue queue;
  const auto now = JobQueue::Clock::now();
  queue.Push(JobOf("cpu-1", 0), now);
  queue.Push(JobOf("gpu-1", 0, true), now);
  queue.Push(JobOf("gpu-hi", 3, true), now);
  queue.Push(JobOf("cpu-2", 0), now);
  EXPECT_EQ(queue.Next(false)->job_id, "cpu-1");  // a CPU worker never sees a CUDA job
  EXPECT_EQ(queue.Next(true)->job_id, "gpu-hi");
  EXPECT_EQ(queue.Next(true)->need, DeviceNeed::kCuda);
  EXPECT_EQ(Drain(queue, true), (std::vector<std::string>{"gpu-hi", "cpu-1", "gpu-1", "cpu-2"}));
}

TEST(JobQueueTest, SkippedJobsArePassedOverInEachLane) {
  JobQueue queue;
  const auto now = JobQueue::Clock::now();
  queue.Push(JobOf("gpu-hi", 3, true), now);
  queue.Push(JobOf("cpu-1", 0), now);
  queue.Push(JobOf("cpu-2", 0), now);
  EXPECT_EQ(queue.Next(true, {"gpu-hi"})->job_id, "cpu-1");
  EXPECT_EQ(queue.Next(true, {"gpu-hi", "cpu-1"})->job_id, "cpu-2");
  EXPECT_EQ(queue.Next(false, {"cpu-1"})->job_id, "cpu-2");
  EXPECT_FALSE(queue.Next(true, {"gpu-hi", "cpu-1", "cpu-2"}).has_value());
  EXPECT_EQ(queue.size(), 3u);  // skipping takes nothing out
}

TEST(JobQueueTest, ARequeuedJobGoesBehindItsPeersAndRemovalIsByIdAnywhere) {
  JobQueue queue;
  const auto now = JobQueue::Clock::now();
  for (const char* id : {"a", "b", "c"}) queue.Push(JobOf(id, 0), now);
  queue.Push(JobOf("a", 0), now);  // requeued: once, at the back
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_TRUE(queue.Contains("b"));
  EXPECT_TRUE(queue.Remove("b"));
  EXPECT_FALSE(queue.Remove("b"));
  EXPECT_FALSE(queue.Contains("b"));
  EXPECT_EQ(Drain(queue, false), (std::vector<std::string>{"c", "a"}));
  EXPECT_FALSE(queue.Next(true).has_value());
}

}  // namespace
}  // namespace polytrain
