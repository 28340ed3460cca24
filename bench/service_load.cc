// service_load: an end-to-end load test of a coordinator and its workers over loopback.
//
//   service_load --coordinator 127.0.0.1:PORT --metrics_port PORT [--clients 50] [--jobs 5000]
//                [--workers 4] [--coordinator_pid PID] [--timeout_seconds 3600]
//
// `clients` threads, each with its own connection, share `jobs` tiny synthetic jobs: a client
// submits one (a unique client_request_id, retried with the same id if the call fails in
// transport), watches it with WatchJob until the stream ends, counts the events that carry a
// terminal state, then takes the next. Printed: SubmitJob latency and submit-to-terminal latency
// (p50/p99/max), jobs/s, and with --coordinator_pid the coordinator's RSS as the run went and its
// peak (VmHWM).
//
// Then the checks, each printed as PASS/FAIL; the exit status is 1 if any failed:
//   - every SubmitJob was acknowledged;
//   - every watch saw exactly one terminal event, after it no state event (and no metric point
//     unless the job had finished before the watch began: then its history follows), and ended
//     OK;
//   - ListJobs (by this run's label) holds exactly the acknowledged jobs, each SUCCEEDED with
//     attempts == 1;
//   - the coordinator's counters moved by exactly the run: submissions and schedulings (one per
//     attempt) == jobs, entries into a terminal state == jobs (a job ending twice would count
//     twice), terminal jobs == jobs, nothing left queued or running, SubmitJob OK calls ==
//     acknowledged calls.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/coordinator_counters.h"
#include "bench/service_load_checks.h"
#include "bench/tiny_job_spec.h"
#include "grpcpp/create_channel.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "testing/http_get.h"

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;
using polytrain::v1::JobState;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

polytrain::v1::JobSpec TinySpec(const std::string& run_id, int k) {
  polytrain::v1::JobSpec spec = TinyJobSpec("service-load-" + std::to_string(k));
  (*spec.mutable_labels())[kRunLabel] = run_id;
  return spec;
}

// Nearest-rank percentile.
double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(q * v.size() + 0.999999);
  return v[std::min(v.size(), std::max<size_t>(rank, 1)) - 1];
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// VmRSS and VmHWM of a process in KiB (0 if unreadable).
void ReadRss(int pid, long* rss_kib, long* hwm_kib) {
  *rss_kib = *hwm_kib = 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> value)) continue;
    if (key == "VmRSS:") *rss_kib = value;
    if (key == "VmHWM:") *hwm_kib = value;
  }
}

// One client: its own connection; submits its share of the jobs one after another, each watched
// to its end, and records what each went through.
void RunClient(const std::string& address, const std::string& run_id, int c, int clients,
               Clock::time_point deadline, std::vector<JobRecord>& records,
               std::atomic<int>& submit_retries, const std::function<void()>& job_done) {
  auto system_deadline = [&] {
    return std::chrono::system_clock::now() + (deadline - Clock::now());
  };
  const int jobs = static_cast<int>(records.size());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per client
  auto stub = polytrain::v1::Coordinator::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  for (int k = c; k < jobs && Clock::now() < deadline; k += clients) {
    JobRecord& r = records[k];
    polytrain::v1::SubmitJobRequest request;
    *request.mutable_spec() = TinySpec(run_id, k);
    request.set_client_request_id("service-load-" + run_id + "-" + std::to_string(k));
    const auto t0 = Clock::now();
    while (r.id.empty() && r.submit_calls < 5 && Clock::now() < deadline) {
      if (r.submit_calls++ > 0) ++submit_retries;
      polytrain::v1::Job job;
      grpc::ClientContext context;
      context.set_deadline(
          std::min(system_deadline(), std::chrono::system_clock::now() + std::chrono::seconds(30)));
      // A connection attempt that fails (seen once in CI: 6 of 50 simultaneous connects) puts the
      // channel in reconnect backoff, where fail-fast calls fail at once: wait for the channel
      // instead, within the deadline, as a real client would.
      context.set_wait_for_ready(true);
      const auto call_start = Clock::now();
      const grpc::Status status = stub->SubmitJob(&context, request, &job);
      if (status.ok()) {
        r.id = job.id();
        r.submit_ms = Ms(Clock::now() - call_start);
      } else {
        r.submit_error = std::to_string(status.error_code()) + " " + status.error_message();
        const auto code = status.error_code();
        if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED &&
            code != grpc::StatusCode::RESOURCE_EXHAUSTED) {
          break;  // not a transport failure: retrying would not help
        }
      }
    }
    if (!r.id.empty()) {
      grpc::ClientContext context;
      context.set_deadline(system_deadline());
      polytrain::v1::WatchJobRequest watch;
      watch.set_id(r.id);
      auto reader = stub->WatchJob(&context, watch);
      polytrain::v1::JobEvent event;
      bool first = true, terminal_first = false;
      while (reader->Read(&event)) {
        // A job already finished when the watch starts comes first as it is (terminal),
        // then its metric history: points after that one are expected, nothing else is.
        if (r.terminal_events > 0 && (event.has_job() || !terminal_first)) {
          ++r.events_after_terminal;
        }
        if (first && event.has_job() && IsTerminal(event.job().state())) {
          terminal_first = r.finished_before_watch = true;
        }
        first = false;
        if (event.has_job() && event.job().id() == r.id && IsTerminal(event.job().state())) {
          if (r.terminal_events++ == 0) {
            r.terminal_ms = Ms(Clock::now() - t0);
            r.watched_state = event.job().state();
            r.job_error = event.job().error();
          }
        }
      }
      const grpc::Status status = reader->Finish();
      if (!status.ok()) {
        r.watch_error = std::to_string(status.error_code()) + " " + status.error_message();
      }
    }
    job_done();
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"service_load: concurrent submit-and-watch clients against a coordinator"};
  std::string address, run_id;
  int clients = 50, jobs = 5000, workers = 0, metrics_port = 0, coordinator_pid = 0;
  double timeout_seconds = 3600;
  app.add_option("--coordinator", address, "HOST:PORT")->required();
  app.add_option("--metrics_port", metrics_port,
                 "the coordinator's /metrics port on 127.0.0.1 (0: skip the counter checks)");
  app.add_option("--clients", clients, "concurrent clients")->check(CLI::Range(1, 1024));
  app.add_option("--jobs", jobs, "jobs in all")->check(CLI::Range(1, 10000000));
  app.add_option("--workers", workers,
                 "wait until this many workers are connected (needs --metrics_port)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--coordinator_pid", coordinator_pid, "sample this process's RSS (0: don't)");
  app.add_option("--timeout_seconds", timeout_seconds, "give up on the run after this long")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--run_id", run_id, "label value of this run's jobs (default: from pid and time)");
  CLI11_PARSE(app, argc, argv);
  if (run_id.empty()) {
    run_id = std::to_string(getpid()) + "-" +
             std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));

  Counters before;
  if (metrics_port != 0) {
    // Poll (with the run's deadline) until the coordinator serves /metrics with enough workers.
    while (!ReadCounters(metrics_port, &before) || before.workers < workers) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "service_load: %d workers never connected (have %.0f)\n", workers,
                     before.workers);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } else if (workers > 0) {
    std::fprintf(stderr, "service_load: --workers needs --metrics_port\n");
    return 2;
  }

  std::vector<JobRecord> records(jobs);
  std::atomic<int> done{0};
  std::atomic<int> submit_retries{0};
  std::mutex mu;
  std::condition_variable all_done;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      RunClient(address, run_id, c, clients, deadline, records, submit_retries, [&] {
        if (++done == jobs) {
          std::lock_guard<std::mutex> lock(mu);
          all_done.notify_all();
        }
      });
    });
  }

  // The coordinator's RSS, four times a second until every job is done.
  struct RssSample {
    double seconds;
    int done;
    long rss_kib;
  };
  std::vector<RssSample> rss;
  {
    std::unique_lock<std::mutex> lock(mu);
    while (done < jobs && Clock::now() < deadline) {
      long rss_kib = 0, hwm_kib = 0;
      if (coordinator_pid != 0) ReadRss(coordinator_pid, &rss_kib, &hwm_kib);
      rss.push_back(
          {std::chrono::duration<double>(Clock::now() - start).count(), done.load(), rss_kib});
      all_done.wait_for(lock, std::chrono::milliseconds(250), [&] { return done >= jobs; });
    }
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  // Results.
  std::vector<double> submit_ms, terminal_ms;
  int acknowledged = 0, unacknowledged = 0, never_submitted = 0, not_exactly_once = 0,
      after_terminal = 0, watch_errors = 0, not_succeeded = 0, finished_before_watch = 0;
  std::string example_submit_error, example_watch_error, example_job_error;
  for (const JobRecord& r : records) {
    if (r.id.empty()) {
      ++unacknowledged;
      if (r.submit_calls == 0) ++never_submitted;
      if (example_submit_error.empty()) example_submit_error = r.submit_error;
      continue;
    }
    ++acknowledged;
    submit_ms.push_back(r.submit_ms);
    if (r.terminal_ms >= 0) terminal_ms.push_back(r.terminal_ms);
    if (r.terminal_events != 1) ++not_exactly_once;
    if (r.events_after_terminal != 0) ++after_terminal;
    if (r.finished_before_watch) ++finished_before_watch;
    if (!r.watch_error.empty()) {
      ++watch_errors;
      if (example_watch_error.empty()) example_watch_error = r.id + ": " + r.watch_error;
    }
    if (r.terminal_events > 0 && r.watched_state != polytrain::v1::JOB_STATE_SUCCEEDED) {
      ++not_succeeded;
      if (example_job_error.empty()) {
        example_job_error =
            r.id + " " + polytrain::v1::JobState_Name(r.watched_state) + ": " + r.job_error;
      }
    }
  }
  std::printf(
      "service_load: %d clients, %d jobs (run %s), %.2f s = %.1f jobs/s to a terminal state\n",
      clients, jobs, run_id.c_str(), elapsed, terminal_ms.size() / elapsed);
  std::printf("  SubmitJob latency ms:          p50 %8.2f  p99 %8.2f  max %8.2f  (%d retries)\n",
              Percentile(submit_ms, 0.5), Percentile(submit_ms, 0.99), Max(submit_ms),
              submit_retries.load());
  std::printf("  submit-to-terminal latency ms: p50 %8.2f  p99 %8.2f  max %8.2f\n",
              Percentile(terminal_ms, 0.5), Percentile(terminal_ms, 0.99), Max(terminal_ms));
  std::printf("  jobs whose terminal event was seen != 1 time: %d\n", not_exactly_once);
  std::printf("  jobs already finished when their watch began: %d\n", finished_before_watch);
  if (coordinator_pid != 0) {
    long rss_kib = 0, hwm_kib = 0;
    ReadRss(coordinator_pid, &rss_kib, &hwm_kib);
    // The first sample past each tenth of the jobs, then the end: "jobs done:RSS MiB".
    std::printf("  coordinator RSS MiB by jobs done:");
    size_t next = 0, printed = rss.size();
    for (int decile = 1; decile <= 9; ++decile) {
      while (next < rss.size() && rss[next].done < jobs * decile / 10) ++next;
      if (next < rss.size() && next != printed) {
        std::printf(" %d:%.1f", rss[next].done, rss[next].rss_kib / 1024.0);
        printed = next;
      }
    }
    std::printf(" %d:%.1f\n", done.load(), rss_kib / 1024.0);
    std::printf("  coordinator peak RSS (VmHWM): %.1f MiB\n", hwm_kib / 1024.0);
  }

  if (metrics_port != 0) {
    const std::string text = polytrain::testing::HttpGet(metrics_port, "/metrics");
    size_t samples = 0;
    for (size_t pos = 0; (pos = text.find('\n', pos)) != std::string::npos; ++pos) {
      if (pos + 1 < text.size() && text[pos + 1] != '#') ++samples;
    }
    std::printf("  coordinator /metrics after the run: %.1f KiB, %zu samples\n",
                text.size() / 1024.0, samples);
  }

  // Checks.
  std::vector<Check> checks;
  checks.push_back({"every SubmitJob acknowledged", unacknowledged == 0,
                    std::to_string(unacknowledged) + " not acknowledged (" +
                        std::to_string(never_submitted) +
                        " not submitted within --timeout_seconds)" +
                        (example_submit_error.empty() ? "" : ", e.g. " + example_submit_error)});
  checks.push_back({"every job's terminal event seen exactly once", not_exactly_once == 0,
                    std::to_string(not_exactly_once) + " jobs"});
  checks.push_back({"no state or live metric event after the terminal one", after_terminal == 0,
                    std::to_string(after_terminal) + " jobs"});
  checks.push_back({"every watch ended OK", watch_errors == 0,
                    std::to_string(watch_errors) + " failed" +
                        (example_watch_error.empty() ? "" : ", e.g. " + example_watch_error)});
  checks.push_back({"every watched terminal state is SUCCEEDED", not_succeeded == 0,
                    std::to_string(not_succeeded) + " jobs" +
                        (example_job_error.empty() ? "" : ", e.g. " + example_job_error)});

  AddStoreChecks(address, run_id, records, acknowledged, &checks);
  if (metrics_port != 0) AddCounterChecks(metrics_port, before, acknowledged, &checks);

  bool ok = true;
  for (const Check& c : checks) {
    std::printf("  %s: %s%s\n", c.ok ? "PASS" : "FAIL", c.what.c_str(),
                c.ok ? "" : (" (" + c.detail + ")").c_str());
    ok = ok && c.ok;
  }
  std::printf("service_load: %s\n", ok ? "all checks passed" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
