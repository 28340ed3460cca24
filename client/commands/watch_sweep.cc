// polyctl's view of a search as it runs (search --watch, watch SWEEP_ID).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/job_states.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/sweep_output.h"

namespace polytrain::command_support {

// Follows the sweep until it is done: on a terminal the whole table, redrawn as it changes;
// otherwise a line per change of the rung table, then the table once at the end.
int WatchSweep(CoordinatorClient& client, const std::string& id, double poll_seconds) {
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  polytrain::v1::GetSweepRequest request;
  request.set_id(id);
  std::string shown;
  bool answered = false;  // once the coordinator has answered, an outage (a restart) is waited for
  CoordinatorClient::Outage outage = client.NewOutage();
  while (true) {
    absl::StatusOr<polytrain::v1::Sweep> sweep =
        client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, request);
    if (!sweep.ok()) {
      if (!answered || !absl::IsUnavailable(sweep.status()) ||
          !outage.TryAgain(std::string(sweep.status().message()))) {
        return Fail(sweep.status());
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(std::max(poll_seconds, 0.5)));
      continue;
    }
    answered = true;
    outage.Reset();
    const bool cancelled = sweep->state() == polytrain::v1::Sweep::SWEEP_STATE_CANCELLED;
    const bool done = cancelled || sweep->state() == polytrain::v1::Sweep::SWEEP_STATE_DONE;
    if (terminal) {
      const std::string text = SweepText(*sweep, /*max_trials=*/10);
      if (text != shown) std::cout << "\033[H\033[2J" << text << std::flush;
      shown = text;
    } else {
      std::string line;
      if (sweep->rungs_size() > 0) {
        line = "rungs reported:";
        for (const auto& r : sweep->rungs()) absl::StrAppend(&line, " ", r.reported());
      } else {  // a random search: no rungs, each trial trains to the end
        int ended = 0;
        for (const auto& t : sweep->trials()) ended += IsFinalState(t.state()) ? 1 : 0;
        line = absl::StrCat("trials ended: ", ended, " of ", sweep->trials_size());
      }
      absl::StrAppend(&line, "; steps ", sweep->total_steps());
      if (line != shown) std::cerr << line << "\n";
      shown = line;
      if (done) std::cout << SweepText(*sweep, 10);
    }
    if (done) return cancelled || sweep->best_loss().empty() ? kExitJobFailed : kExitOk;
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_seconds));
  }
}

}  // namespace polytrain::command_support
