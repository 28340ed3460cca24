// A real worker against a coordinator that welcomes it and closes the stream at once, as one
// whose store fails (a full disk) does: the worker dials again with a growing backoff (0.1 s,
// doubling to 5 s) instead of ten times a second, which filled its log with hundreds of lines
// and kept the coordinator busy refusing it.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "testing/process.h"

namespace polytrain {
namespace {

// Welcomes every worker, then ends its stream as a coordinator whose store fails does.
class ClosingCoordinator final : public v1::WorkerService::Service {
 public:
  explicit ClosingCoordinator(double heartbeat_seconds) : heartbeat_seconds_(heartbeat_seconds) {}

  grpc::Status Connect(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream) override {
    v1::WorkerMessage hello;
    if (!stream->Read(&hello)) return grpc::Status::CANCELLED;
    {
      std::lock_guard<std::mutex> lock(mu_);
      dials_.push_back(std::chrono::steady_clock::now());
    }
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_heartbeat_seconds(heartbeat_seconds_);
    welcome.mutable_welcome()->set_lease_seconds(3 * heartbeat_seconds_);
    stream->Write(welcome);
    return grpc::Status(grpc::StatusCode::INTERNAL, "sqlite: database or disk is full");
  }

  std::vector<std::chrono::steady_clock::time_point> dials() {
    std::lock_guard<std::mutex> lock(mu_);
    return dials_;
  }

 private:
  const double heartbeat_seconds_;
  std::mutex mu_;
  std::vector<std::chrono::steady_clock::time_point> dials_;
};

// The seconds between the first `count` dials of a real worker (fewer when `give_up` passes
// first) at a coordinator that welcomes it (with this heartbeat interval) and closes the stream
// at once. The checks below bound these gaps from one side each, with room for a slow machine.
std::vector<double> GapsBetweenDials(double heartbeat_seconds, size_t count,
                                     std::chrono::seconds give_up) {
  ClosingCoordinator coordinator(heartbeat_seconds);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&coordinator);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (port == 0) return {};
  testing::Process worker(
      POLYTRAIN_WORKER_BINARY,
      {"--coordinator", "127.0.0.1:" + std::to_string(port), "--name", "patient"});
  if (!worker.started()) return {};
  const auto until = std::chrono::steady_clock::now() + give_up;
  while (coordinator.dials().size() < count && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  worker.Kill(SIGKILL);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  const std::vector<std::chrono::steady_clock::time_point> dials = coordinator.dials();
  std::vector<double> gaps;
  for (size_t i = 1; i < dials.size() && i < count; ++i) {
    gaps.push_back(std::chrono::duration<double>(dials[i] - dials[i - 1]).count());
  }
  return gaps;
}

TEST(WorkerBackoffTest, ACoordinatorThatClosesRightAfterTheWelcomeIsDialledWithBackoff) {
  // Waits of 0.1, 0.2, 0.4 and 0.8 s before the 2nd to 5th dials (without backoff, 0.1 s each,
  // ten dials a second). A slow machine only lengthens a gap.
  const std::vector<double> gaps =
      GapsBetweenDials(/*heartbeat_seconds=*/10, 5, std::chrono::seconds(60));
  ASSERT_EQ(gaps.size(), 4u);  // it does come back
  EXPECT_GE(gaps[2], 0.35);
  EXPECT_GE(gaps[3], 0.75);
  EXPECT_LT(gaps[0] + gaps[1] + gaps[2] + gaps[3], 10);  // 1.5 s, not a backoff from 5 s
}

TEST(WorkerBackoffTest, TheBackoffStaysWithinTheCoordinatorsHeartbeat) {
  // A coordinator with --lease_seconds 1.5 (a heartbeat every 0.5 s): a restarted one gives a
  // restored job one lease for its worker to come back, so the worker waits at most 0.5 s
  // between dials: 0.1, 0.2, 0.4, then 0.5 s each (unbounded, 0.8, 1.6, 3.2 and 5 s before the
  // 5th to 8th dials, 11 s in all).
  const std::vector<double> gaps =
      GapsBetweenDials(/*heartbeat_seconds=*/0.5, 9, std::chrono::seconds(60));
  ASSERT_EQ(gaps.size(), 8u);
  const double longest_late_gap = *std::max_element(gaps.begin() + 3, gaps.end());
  EXPECT_LT(longest_late_gap, 4);
}

}  // namespace
}  // namespace polytrain
