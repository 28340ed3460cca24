// The coordinator's own counters as the load benchmarks read them from its /metrics page:
// samples parsed from Prometheus text exposition, and the ones service_load compares before and
// after a run.
#ifndef POLYTRAIN_BENCH_COORDINATOR_COUNTERS_H_
#define POLYTRAIN_BENCH_COORDINATOR_COUNTERS_H_

#include <map>
#include <sstream>
#include <string>

#include "testing/http_get.h"

namespace polytrain {

// Sum of the samples of `name` whose labels include every pair of `labels`, from Prometheus
// text exposition; -1 when no sample matches.
inline double Sample(const std::string& text, const std::string& name,
                     const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.compare(0, name_end, name) != 0 ||
        name_end != name.size()) {
      continue;
    }
    std::map<std::string, std::string> have;
    size_t value_start = name_end;
    if (line[name_end] == '{') {
      const size_t close = line.find('}', name_end);
      if (close == std::string::npos) continue;
      std::string body = line.substr(name_end + 1, close - name_end - 1);
      size_t pos = 0;
      while (pos < body.size()) {
        const size_t eq = body.find("=\"", pos);
        if (eq == std::string::npos) break;
        const size_t end = body.find('"', eq + 2);
        if (end == std::string::npos) break;
        have[body.substr(pos, eq - pos)] = body.substr(eq + 2, end - eq - 2);
        pos = end + 1;
        if (pos < body.size() && body[pos] == ',') ++pos;
      }
      value_start = close + 1;
    }
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = have.find(k);
      if (it == have.end() || it->second != v) match = false;
    }
    if (!match) continue;
    sum += std::stod(line.substr(value_start));
    found = true;
  }
  return found ? sum : -1;
}

// The counters and gauges the checks compare before and after the run.
struct Counters {
  double submissions = 0, scheduled = 0, queued = 0, running = 0, terminal = 0, submit_ok = 0,
         workers = 0, entered_terminal = 0;
};

inline bool ReadCounters(int port, Counters* c) {
  const std::string text = polytrain::testing::HttpGet(port, "/metrics");
  if (text.empty()) return false;
  auto zero_if_absent = [](double v) { return v < 0 ? 0 : v; };
  c->submissions = zero_if_absent(Sample(text, "polytrain_job_submissions_total"));
  c->scheduled = zero_if_absent(Sample(text, "polytrain_scheduling_latency_seconds_count"));
  c->queued = zero_if_absent(Sample(text, "polytrain_jobs", {{"state", "queued"}}));
  c->running = zero_if_absent(Sample(text, "polytrain_jobs", {{"state", "running"}}));
  c->terminal = 0;
  for (const char* s : {"succeeded", "failed", "cancelled"}) {
    c->terminal += zero_if_absent(Sample(text, "polytrain_jobs", {{"state", s}}));
    c->entered_terminal +=
        zero_if_absent(Sample(text, "polytrain_job_transitions_total", {{"to", s}}));
  }
  c->submit_ok = zero_if_absent(
      Sample(text, "polytrain_rpc_requests_total", {{"method", "SubmitJob"}, {"code", "OK"}}));
  c->workers = zero_if_absent(Sample(text, "polytrain_workers_connected"));
  return true;
}

}  // namespace polytrain

#endif  // POLYTRAIN_BENCH_COORDINATOR_COUNTERS_H_
