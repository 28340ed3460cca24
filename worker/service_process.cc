#include "worker/service_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/worker_threads.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "common/flag_file.h"
#include "common/metrics_http_server.h"
#include "prometheus/registry.h"
#include "spdlog/spdlog.h"
#include "worker/standalone_stop.h"
#include "worker/worker_exit.h"
#include "worker/worker_metrics.h"

namespace polytrain {
namespace {

using worker_exit::Fail;
using worker_exit::kTool;

// The write end is written by the SIGINT/SIGTERM handler (write is async-signal-safe).
int stop_pipe[2] = {-1, -1};

// The byte written is the signal's number (0: a stuck job). After the first SIGINT or SIGTERM
// both take their default action again, so a second one of either ends the process at once (as
// a standalone run's second Ctrl-C), not waiting for the jobs to be given back. sigaction is
// async-signal-safe.
void WakeStopWaiter(int signal) {
  const int saved = errno;
  if (signal != 0) {
    struct sigaction default_action = {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(SIGINT, &default_action, nullptr);
    sigaction(SIGTERM, &default_action, nullptr);
  }
  const char byte = static_cast<char>(signal);
  (void)!write(stop_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

int RunServiceProcess(ServiceWorker::Options options, const std::string& metrics_listen,
                      const std::string& metrics_port_file, int drain_seconds) {
  // Libraries start threads before main (OpenBLAS's pool), so a blocked mask would not cover
  // every thread: a handler, run by whichever thread the signal reaches, wakes the waiter below.
  if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
    return Fail(kExitInternal, absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno))));
  }
  struct sigaction stop = {};
  stop.sa_handler = WakeStopWaiter;
  sigemptyset(&stop.sa_mask);
  stop.sa_flags = SA_RESTART;
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics metrics(*registry);
  if (!metrics_listen.empty()) options.metrics = &metrics;
  // A job stuck past its cancel: the others are given back as at SIGTERM, then the process
  // ends (exit 6), the one way to free the stuck thread's slot.
  static std::atomic<bool> stuck_job{false};
  options.on_stuck = [] {
    stuck_job = true;
    spdlog::error(
        "giving any other jobs back and exiting: only a restart frees a stuck job's slot");
    WakeStopWaiter(0);
  };
  // Refused before any welcome: said once, with the coordinator's reason, and exit 8.
  struct Refusal {
    std::mutex mu;
    bool refused = false;
    bool tls = false;  // a TLS mismatch, not the coordinator's refusal
    std::string reason;
  };
  auto refusal = std::make_shared<Refusal>();
  options.on_refused_at_start = [refusal](const std::string& reason, bool tls) {
    {
      std::lock_guard<std::mutex> lock(refusal->mu);
      refusal->refused = true;
      refusal->tls = tls;
      refusal->reason = reason;
    }
    WakeStopWaiter(0);
  };
  ServiceWorker worker(options);
  std::unique_ptr<MetricsHttpServer> endpoint;
  if (!metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
        MetricsHttpServer::Start(metrics_listen, registry, [&worker] { worker.RefreshMetrics(); });
    if (!started.ok()) return Fail(kExitInvalid, started.status());
    endpoint = *std::move(started);
    if (!metrics_port_file.empty()) {
      absl::Status written = WriteFlagFile("--metrics_port_file", metrics_port_file,
                                           absl::StrCat(endpoint->port(), "\n"));
      if (!written.ok()) return Fail(kExitInvalid, written);
    }
  }
  std::promise<void> run_returned;
  std::thread waiter([&, returned = run_returned.get_future()] {
    char byte = 0;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte == SIGINT || byte == SIGTERM) {
      spdlog::info(
          "{}: {} received: giving running jobs back to the coordinator (up to {} s), then "
          "exiting; another ends the process at once",
          options.name, byte == SIGTERM ? "SIGTERM" : "SIGINT", drain_seconds);
    }
    // Running jobs are given back (requeued at once, to resume elsewhere) before the exit.
    worker.Drain(std::chrono::seconds(drain_seconds));
    // Then cancelled. A job that does not notice (stuck in its model's code or in reading a
    // file) cannot be joined: the process ends without it; the coordinator requeues it.
    // A job stuck past its cancel grace was reported and said (on_stuck): its thread is never
    // joined, so the process ends now, once the others were given back.
    if (stuck_job) {
      spdlog::shutdown();
      std::_Exit(kExitJobFailed);
    }
    if (returned.wait_for(std::chrono::seconds(kStuckSeconds)) == std::future_status::timeout) {
      spdlog::error(
          "a job did not stop within {} s of its cancel (stuck in its model's code or "
          "in reading a file); exiting without it",
          kStuckSeconds);
      spdlog::shutdown();
      std::_Exit(kExitOk);
    }
  });
  const int job_threads = ThreadsPerJob(options.threads, options.slots);
  spdlog::info(
      "{}: starting with {} slot(s){}, {} thread(s) per job; coordinator {}", options.name,
      options.slots,
      options.gpus.empty() ? "" : absl::StrCat(" on GPU(s) ", absl::StrJoin(options.gpus, ",")),
      job_threads, options.coordinator);
  if (options.slots > options.threads) {  // each job runs at least one thread
    spdlog::warn(
        "--slots {} is more than --threads {}: each job still computes with 1 thread, so the "
        "jobs together use up to {}",
        options.slots, options.threads, options.slots);
  }
  worker.Run();
  // Run() returns only after Stop(), which only the signal thread calls.
  run_returned.set_value();
  waiter.join();
  {
    std::lock_guard<std::mutex> lock(refusal->mu);
    if (refusal->refused && refusal->tls) {
      return Fail(kExitDenied,
                  absl::UnavailableError(absl::StrCat(
                      "cannot connect to the coordinator at ", options.coordinator,
                      " over TLS as configured (every dial failed for ",
                      ServiceWorker::kStartRefusal.count(), " s): ", refusal->reason)));
    }
    if (refusal->refused) {
      // The token's sources are named where the reason is about a token and does not name them.
      const bool about_token = absl::StrContains(refusal->reason, "token") &&
                               !absl::StrContains(refusal->reason, "--token_file");
      return Fail(
          kExitDenied,
          absl::PermissionDeniedError(absl::StrCat(
              "the coordinator at ", options.coordinator, " refuses this worker: ", refusal->reason,
              about_token ? " (the worker's token: --token_file or $POLYTRAIN_TOKEN)" : "")));
    }
  }
  spdlog::info("{}: stopped", options.name);
  return stuck_job ? kExitJobFailed : kExitOk;
}

}  // namespace polytrain
