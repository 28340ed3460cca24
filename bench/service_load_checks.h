// service_load's records and checks: what each job went through, and whether the store and the
// coordinator's counters say exactly what the run did (bench/service_load.cc).
#ifndef POLYTRAIN_BENCH_SERVICE_LOAD_CHECKS_H_
#define POLYTRAIN_BENCH_SERVICE_LOAD_CHECKS_H_

#include <string>
#include <vector>

#include "bench/coordinator_counters.h"
#include "polytrain/v1/job_record.pb.h"

namespace polytrain {

// The label every job of a run carries, its value the run's id.
inline constexpr char kRunLabel[] = "service_load_run";

bool IsTerminal(polytrain::v1::JobState state);

// What one job went through.
struct JobRecord {
  std::string id;                 // empty: never acknowledged
  int submit_calls = 0;           // attempts of SubmitJob (1 unless a call failed in transport)
  std::string submit_error;       // the last failed call's status
  double submit_ms = -1;          // the acknowledged call's latency
  double terminal_ms = -1;        // first SubmitJob call to the first terminal event
  int terminal_events = 0;        // events carrying a terminal state of this job
  int events_after_terminal = 0;  // state events, or live metric points, after the terminal one
  bool finished_before_watch = false;  // the watch's first event was already terminal
  polytrain::v1::JobState watched_state = polytrain::v1::JOB_STATE_UNSPECIFIED;
  std::string watch_error;  // the stream's non-OK status
  std::string job_error;    // Job.error of a non-succeeded job
};

struct Check {
  std::string what;
  bool ok;
  std::string detail;
};

// What the store says of the run, through ListJobs by its label: exactly the acknowledged jobs,
// each terminal, SUCCEEDED, attempted once, in the state its watch saw.
void AddStoreChecks(const std::string& address, const std::string& run_id,
                    const std::vector<JobRecord>& records, int acknowledged,
                    std::vector<Check>* checks);

// The coordinator's own counters, as deltas over the run: each moved by exactly the jobs run.
void AddCounterChecks(int port, const Counters& before, int acknowledged,
                      std::vector<Check>* checks);

}  // namespace polytrain

#endif  // POLYTRAIN_BENCH_SERVICE_LOAD_CHECKS_H_
