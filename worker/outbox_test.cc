#include "worker/outbox.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace polytrain {
namespace {

using polytrain::v1::MetricPoint;
using polytrain::v1::WorkerMessage;
using std::chrono::milliseconds;

WorkerMessage Points(int train, int eval = 0) {
  WorkerMessage message;
  message.mutable_metrics()->set_job_id("job-1");
  for (int i = 0; i < train + eval; ++i) {
    MetricPoint* point = message.mutable_metrics()->add_points();
    point->set_step(i);
    point->set_kind(i < train ? MetricPoint::KIND_TRAIN : MetricPoint::KIND_EVAL);
  }
  return message;
}

WorkerMessage Result() {
  WorkerMessage message;
  message.mutable_finished()->set_job_id("job-1");
  return message;
}

std::vector<uint64_t> Sequences(const std::deque<WorkerMessage>& messages) {
  std::vector<uint64_t> out;
  for (const auto& m : messages) out.push_back(m.sequence());
  return out;
}

// Writes every message it takes, as the sender does on a healthy stream.
std::vector<uint64_t> SendAll(Outbox& outbox, int64_t stream) {
  std::deque<WorkerMessage> taken = outbox.TakeUnsent(stream, milliseconds(0));
  const std::vector<uint64_t> sent = Sequences(taken);
  for (auto& m : taken) outbox.Written(std::move(m));
  return sent;
}

TEST(OutboxTest, MessagesAreNumberedInOrder) {
  Outbox outbox(100, nullptr);
  EXPECT_EQ(outbox.Enqueue(Points(1)), 1u);
  EXPECT_EQ(outbox.Enqueue(Result()), 2u);
  EXPECT_EQ(SendAll(outbox, 1), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(SendAll(outbox, 1).empty());  // written once per stream
}

TEST(OutboxTest, WhatANewStreamFindsUnacknowledgedGoesFirstInOrder) {
  Outbox outbox(100, nullptr);
  for (int i = 0; i < 4; ++i) outbox.Enqueue(Points(1));
  EXPECT_EQ(SendAll(outbox, 1), (std::vector<uint64_t>{1, 2, 3, 4}));
  outbox.Acknowledge(2);
  EXPECT_EQ(outbox.acknowledged_through(), 2u);
  outbox.Enqueue(Points(1));  // 5, queued while the stream is down
  // The stream broke: 3 and 4 may never have been stored, so they go again before 5.
  EXPECT_EQ(SendAll(outbox, 2), (std::vector<uint64_t>{3, 4, 5}));
  outbox.Acknowledge(1);  // a stale acknowledgement changes nothing
  EXPECT_EQ(outbox.acknowledged_through(), 2u);
  outbox.Acknowledge(5);
  EXPECT_EQ(outbox.buffered_points(), 0u);
  EXPECT_TRUE(SendAll(outbox, 3).empty());  // nothing is resent once acknowledged
}

TEST(OutboxTest, UnwrittenMessagesGoBackInFrontInOrder) {
  Outbox outbox(100, nullptr);
  for (int i = 0; i < 3; ++i) outbox.Enqueue(Points(1));
  std::deque<WorkerMessage> taken = outbox.TakeUnsent(1, milliseconds(0));
  outbox.Written(std::move(taken.front()));  // 1 went out, then the stream failed
  taken.pop_front();
  outbox.Enqueue(Result());  // 4 arrives meanwhile
  outbox.ReturnUnsent(std::move(taken));
  EXPECT_EQ(SendAll(outbox, 1), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(OutboxTest, BeyondTheBoundTheOldestTrainingPointsGoAndAreCounted) {
  prometheus::Registry registry;
  WorkerMetrics metrics(registry);
  Outbox outbox(10, &metrics);
  outbox.Enqueue(Points(4, 2));              // 1: 4 train + 2 eval
  outbox.Enqueue(Result());                  // 2
  outbox.Enqueue(Points(4));                 // 3
  EXPECT_EQ(outbox.buffered_points(), 10u);  // the bound itself: nothing dropped
  EXPECT_EQ(outbox.dropped_points(), 0u);
  outbox.Enqueue(Points(3));  // 4: 13 held, the first message's 4 training points go
  EXPECT_EQ(outbox.dropped_points(), 4u);
  EXPECT_EQ(outbox.buffered_points(), 9u);
  std::deque<WorkerMessage> taken = outbox.TakeUnsent(1, milliseconds(0));
  ASSERT_EQ(Sequences(taken), (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_EQ(taken[0].metrics().points_size(), 2);  // the evaluations stay
  EXPECT_EQ(taken[0].metrics().points(0).kind(), MetricPoint::KIND_EVAL);
  EXPECT_TRUE(taken[1].has_finished());
}

TEST(OutboxTest, AMessageLeftWithNoPointsIsDroppedWhole) {
  Outbox outbox(3, nullptr);
  outbox.Enqueue(Points(3));  // 1
  SendAll(outbox, 1);         // written, not acknowledged: still held
  outbox.Enqueue(Points(2));  // 2: 5 held, message 1 loses all its points
  EXPECT_EQ(outbox.dropped_points(), 3u);
  EXPECT_EQ(SendAll(outbox, 2), (std::vector<uint64_t>{2}));
}

TEST(OutboxTest, AWaitForAnAcknowledgementEndsWithItOrWithClose) {
  Outbox outbox(10, nullptr);
  const uint64_t first = outbox.Enqueue(Points(1));
  const uint64_t second = outbox.Enqueue(Points(1));
  SendAll(outbox, 1);
  EXPECT_FALSE(outbox.WaitAcknowledged(first, milliseconds(1)));  // nothing acknowledged yet
  std::thread coordinator([&] { outbox.Acknowledge(second); });
  EXPECT_TRUE(outbox.WaitAcknowledged(second, std::chrono::seconds(60)));
  coordinator.join();
  EXPECT_TRUE(outbox.WaitAcknowledged(first, milliseconds(0)));  // already
  const uint64_t third = outbox.Enqueue(Points(1));
  std::thread closer([&] { outbox.Close(); });
  EXPECT_FALSE(outbox.WaitAcknowledged(third, std::chrono::seconds(60)));
  closer.join();
}

TEST(OutboxTest, CloseWakesAWaitingSender) {
  Outbox outbox(10, nullptr);
  std::thread closer([&] { outbox.Close(); });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(outbox.TakeUnsent(1, milliseconds(60000)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  closer.join();
  EXPECT_TRUE(outbox.closed());
  outbox.WaitUnlessClosed(std::chrono::hours(1));  // returns at once once closed
}

// The connection loop's wait between dials: a running job's reports (each an Enqueue) must not
// end it, or a worker dials a stopped coordinator as fast as its job reports.
TEST(OutboxTest, ABackoffWaitIsNotCutShortByReportsButEndsAtWake) {
  Outbox outbox(1000000, nullptr);
  std::atomic<bool> waited{false};
  std::thread job([&] {
    while (!waited) outbox.Enqueue(Points(1));
  });
  const auto start = std::chrono::steady_clock::now();
  outbox.WaitUnlessClosed(milliseconds(200));
  // A lower bound only: wait_for never returns before its timeout unless woken for a reason.
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(200));
  waited = true;
  job.join();
  std::atomic<bool> woken{false};
  std::thread waker([&] {
    while (!woken) outbox.Wake();
  });
  outbox.WaitUnlessClosed(std::chrono::hours(1));  // ends at a Wake (else the test times out)
  woken = true;
  waker.join();
}

}  // namespace
}  // namespace polytrain
