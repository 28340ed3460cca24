// A service worker's signals: the first SIGINT or SIGTERM gives its jobs back to the coordinator
// (up to 20 s: each trains on to the end of its logging window, and the worker waits for the
// coordinator's acknowledgement); a second one of either, while it does that, ends the process
// at once, killed by that signal, as a standalone run's second Ctrl-C does.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "testing/service_fixture.h"

namespace polytrain {
namespace {

using polytrain::testing::Spec;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

// Whether the process catches `signal` now (/proc/PID/status: SigCgt, a hex mask).
bool Catches(pid_t pid, int signal) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigCgt:", 0) != 0) continue;
    uint64_t mask = 0;
    return absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)), &mask) &&
           (mask >> (signal - 1) & 1) != 0;
  }
  return false;
}

class WorkerSignalTest : public testing::ServiceFixture {};

TEST_F(WorkerSignalTest, ASecondSignalWhileJobsAreGivenBackEndsTheWorkerAtOnce) {
  StartCoordinator(/*lease_seconds=*/3600);
  StartWorker("stubborn");
  v1::JobSpec spec = Spec("long-give-back", 1000);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_RUNNING; }));
  const pid_t pid = workers_.back()->pid();
  ASSERT_TRUE(Catches(pid, SIGTERM) && Catches(pid, SIGINT));
  // A coordinator that does not answer: the give-back waits for its acknowledgement (up to the
  // worker's 20 s), so the worker is still giving the job back when the second signal comes,
  // however slow this machine is.
  const pid_t coordinator = coordinator_->pid();
  ASSERT_EQ(kill(coordinator, SIGSTOP), 0);
  kill(pid, SIGTERM);
  // Once the first signal is handled, neither is caught any more.
  const bool handled = WaitFor([&] { return !Catches(pid, SIGINT) && !Catches(pid, SIGTERM); }, 20);
  const int status = handled ? workers_.back()->Kill(SIGINT) : 0;
  kill(coordinator, SIGCONT);
  ASSERT_TRUE(handled);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
}

}  // namespace
}  // namespace polytrain
