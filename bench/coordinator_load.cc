// coordinator_load: a load generator for polytrain-coordinator over loopback.
//
//   coordinator_load --coordinator 127.0.0.1:PORT [--clients 8] [--seconds 5]
//                    [--points_per_batch 500] [--prefill N] [--no-ingest]
//
// Phase 0 (with --prefill N): N jobs queued first, by sweeps of 1000 (no worker takes them), so
// that phase 1 measures submissions against a queue of that depth. Phase 1: `clients` threads call
// SubmitJob (tiny synthetic specs) as fast as they can for `seconds`: submissions/s and latency
// percentiles. Phase 2: a load-generating worker stream takes one job and sends MetricBatches of
// `points_per_batch` points, each batch acknowledged by the next heartbeat round trip being
// possible: metric points ingested per second (stored in SQLite), measured until the coordinator
// has stored them all (GetMetrics).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/tiny_job_spec.h"
#include "grpcpp/create_channel.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "polytrain/v1/worker.grpc.pb.h"

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;

polytrain::v1::JobSpec TinySpec(int i) { return TinyJobSpec("load-" + std::to_string(i)); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

int Main(int argc, char** argv) {
  CLI::App app{"coordinator_load: SubmitJob and metric-ingestion load over loopback"};
  std::string address;
  int clients = 8, points_per_batch = 500;
  double seconds = 5;
  app.add_option("--coordinator", address, "HOST:PORT")->required();
  app.add_option("--clients", clients, "concurrent SubmitJob clients")->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "duration of each phase")->check(CLI::Range(0.1, 600.0));
  app.add_option("--points_per_batch", points_per_batch)->check(CLI::Range(1, 10000));
  int prefill = 0;
  bool ingest = true;
  app.add_option("--prefill", prefill, "jobs queued before phase 1")
      ->check(CLI::Range(0, 10000000));
  app.add_flag("!--no-ingest", ingest, "skip phase 2 (metric ingestion)");
  CLI11_PARSE(app, argc, argv);

  // Phase 0: the queue filled by sweeps of 10 losses x 100 seeds, each stored in one transaction.
  if (prefill > 0) {
    auto stub = polytrain::v1::Coordinator::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    const auto fill_start = Clock::now();
    for (int queued = 0; queued < prefill;) {
      polytrain::v1::SubmitSweepRequest sweep;
      *sweep.mutable_base() = TinySpec(queued);
      const int jobs = std::min(1000, prefill - queued);
      const int losses = std::max(1, std::min(10, jobs));
      for (int l = 0; l < losses; ++l) sweep.add_losses()->mutable_poly1()->set_epsilon(l + 1);
      sweep.set_seeds(jobs / losses);
      polytrain::v1::SubmitSweepResponse response;
      grpc::ClientContext context;
      const grpc::Status status = stub->SubmitSweep(&context, sweep, &response);
      if (!status.ok()) {
        std::fprintf(stderr, "prefill: %s\n", status.error_message().c_str());
        return 1;
      }
      queued += response.jobs_size();
    }
    std::printf("Prefill: %d jobs queued in %.1f s\n", prefill,
                std::chrono::duration<double>(Clock::now() - fill_start).count());
  }

  // Phase 1: submissions.
  std::vector<double> latencies;
  std::mutex mu;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = polytrain::v1::Coordinator::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      std::vector<double> mine;
      for (int i = 0; Clock::now() < end; ++i) {
        polytrain::v1::SubmitJobRequest request;
        *request.mutable_spec() = TinySpec(c * 1000000 + i);
        polytrain::v1::Job job;
        grpc::ClientContext context;
        const auto t0 = Clock::now();
        if (!stub->SubmitJob(&context, request, &job).ok()) ++errors;
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "SubmitJob: %d clients, %zu calls in %.2f s = %.0f/s; latency ms p50 %.3f p99 %.3f; "
      "errors %d\n",
      clients, latencies.size(), elapsed, latencies.size() / elapsed, Percentile(latencies, 0.5),
      Percentile(latencies, 0.99), errors.load());

  if (!ingest) return errors.load() == 0 ? 0 : 1;

  // Phase 2: one worker stream taking the highest-priority job and flooding its metrics.
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto coordinator = polytrain::v1::Coordinator::NewStub(channel);
  polytrain::v1::SubmitJobRequest target;
  *target.mutable_spec() = TinySpec(-1);
  target.mutable_spec()->set_priority(1000);  // ahead of phase 1's backlog
  polytrain::v1::Job job;
  {
    grpc::ClientContext context;
    if (!coordinator->SubmitJob(&context, target, &job).ok()) return 1;
  }
  auto worker = polytrain::v1::WorkerService::NewStub(channel);
  grpc::ClientContext stream_context;
  auto stream = worker->Connect(&stream_context);
  polytrain::v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("load-generator");
  hello.mutable_hello()->set_slots(1);
  stream->Write(hello);
  polytrain::v1::CoordinatorMessage message;
  int attempt = 0;
  while (stream->Read(&message)) {
    if (message.has_assignment() && message.assignment().job().id() == job.id()) {
      attempt = message.assignment().job().attempts();
      break;
    }
  }
  int64_t step = 0, sent = 0;
  const auto flood_start = Clock::now();
  const auto flood_end = flood_start + std::chrono::duration<double>(seconds);
  while (Clock::now() < flood_end) {
    polytrain::v1::WorkerMessage batch;
    auto* metrics = batch.mutable_metrics();
    metrics->set_job_id(job.id());
    metrics->set_attempt(attempt);
    for (int i = 0; i < points_per_batch; ++i) {
      auto* p = metrics->add_points();
      p->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
      p->set_step(++step);
      (*p->mutable_values())["loss"] = 1.0 / step;
      (*p->mutable_values())["accuracy"] = 0.5;
      (*p->mutable_values())["samples_per_second"] = 1000;
    }
    if (!stream->Write(batch)) break;
    sent += points_per_batch;
  }
  // Done when every point is stored.
  while (true) {
    grpc::ClientContext context;
    polytrain::v1::GetMetricsRequest request;
    request.set_job_id(job.id());
    request.set_max_points(1);  // the newest point only
    polytrain::v1::GetMetricsResponse response;
    if (coordinator->GetMetrics(&context, request, &response).ok() && response.points_size() == 1 &&
        response.points(0).step() >= sent) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double flood = std::chrono::duration<double>(Clock::now() - flood_start).count();
  std::printf("Metric ingestion: %lld points in batches of %d, stored in %.2f s = %.0f points/s\n",
              static_cast<long long>(sent), points_per_batch, flood, sent / flood);
  stream_context.TryCancel();
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
