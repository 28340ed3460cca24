// A real worker against a coordinator that welcomes it and closes the stream at once, as one
// whose store fails (a full disk) does: the worker dials again with a growing backoff (0.1 s,
// doubling to 5 s) instead of ten times a second, which filled its log with hundreds of lines
// and kept the coordinator busy refusing it.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

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
    const int n = ++connections_;
    if (n == 1) first_ = std::chrono::steady_clock::now();
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_heartbeat_seconds(heartbeat_seconds_);
    welcome.mutable_welcome()->set_lease_seconds(3 * heartbeat_seconds_);
    stream->Write(welcome);
    return grpc::Status(grpc::StatusCode::INTERNAL, "sqlite: database or disk is full");
  }

  int connections() const { return connections_; }
  std::chrono::steady_clock::time_point first() const { return first_; }

 private:
  const double heartbeat_seconds_;
  std::atomic<int> connections_{0};
  std::atomic<std::chrono::steady_clock::time_point> first_{};
};

// How often a real worker dials, in the six seconds after its first dial, a coordinator that
// welcomes it (with this heartbeat interval) and closes the stream at once.
int DialsInSixSeconds(double heartbeat_seconds) {
  ClosingCoordinator coordinator(heartbeat_seconds);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&coordinator);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (port == 0) return -1;
  testing::Process worker(
      POLYTRAIN_WORKER_BINARY,
      {"--coordinator", "127.0.0.1:" + std::to_string(port), "--name", "patient"});
  if (!worker.started()) return -1;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (coordinator.connections() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (coordinator.connections() == 0) return -1;
  std::this_thread::sleep_until(coordinator.first() + std::chrono::seconds(6));
  const int dials = coordinator.connections();
  worker.Kill(SIGKILL);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return dials;
}

TEST(WorkerBackoffTest, ACoordinatorThatClosesRightAfterTheWelcomeIsDialledWithBackoff) {
  // 0.1 + 0.2 + ... + 3.2 s of backoff allows about 7 dials in six seconds; without backoff a
  // worker dials about 50 times.
  const int dials = DialsInSixSeconds(/*heartbeat_seconds=*/10);
  EXPECT_GE(dials, 3);  // it does come back
  EXPECT_LE(dials, 12);
}

TEST(WorkerBackoffTest, TheBackoffStaysWithinTheCoordinatorsHeartbeat) {
  // A coordinator with --lease_seconds 1.5 (a heartbeat every 0.5 s): a restarted one gives a
  // restored job one lease for its worker to come back, so the worker dials at least every
  // 0.5 s: about 0.7 s to reach the bound, then one dial each 0.5 s, some 13 in all (7 if the
  // backoff grew to its 5 s bound).
  const int dials = DialsInSixSeconds(/*heartbeat_seconds=*/0.5);
  EXPECT_GE(dials, 10);
  EXPECT_LE(dials, 16);
}

}  // namespace
}  // namespace polytrain
