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
  grpc::Status Connect(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream) override {
    v1::WorkerMessage hello;
    if (!stream->Read(&hello)) return grpc::Status::CANCELLED;
    const int n = ++connections_;
    if (n == 1) first_ = std::chrono::steady_clock::now();
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_heartbeat_seconds(10);
    welcome.mutable_welcome()->set_lease_seconds(30);
    stream->Write(welcome);
    return grpc::Status(grpc::StatusCode::INTERNAL, "sqlite: database or disk is full");
  }

  int connections() const { return connections_; }
  std::chrono::steady_clock::time_point first() const { return first_; }

 private:
  std::atomic<int> connections_{0};
  std::atomic<std::chrono::steady_clock::time_point> first_{};
};

TEST(WorkerBackoffTest, ACoordinatorThatClosesRightAfterTheWelcomeIsDialledWithBackoff) {
  ClosingCoordinator coordinator;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&coordinator);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  testing::Process worker(
      POLYTRAIN_WORKER_BINARY,
      {"--coordinator", "127.0.0.1:" + std::to_string(port), "--name", "patient"});
  ASSERT_TRUE(worker.started());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (coordinator.connections() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(coordinator.connections(), 0);
  // Six seconds of the worker's dialling is what is measured here: 0.1 + 0.2 + ... + 3.2 s of
  // backoff allows about 7 dials in it; without backoff it dials about 50 times.
  std::this_thread::sleep_until(coordinator.first() + std::chrono::seconds(6));
  const int dials = coordinator.connections();
  EXPECT_GE(dials, 3);  // it does come back
  EXPECT_LE(dials, 12);
  worker.Kill(SIGKILL);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace
}  // namespace polytrain
