// A service worker's signals: the first SIGINT or SIGTERM gives its jobs back to the coordinator
// (up to 20 s: each trains on to the end of its logging window); a second one of either, while
// it does that, ends the process at once, killed by that signal, as a standalone run's second
// Ctrl-C does.
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
  // A logging window longer than the test: giving the job back would wait for its end (up to
  // the worker's 20 s).
  v1::JobSpec spec = Spec("long-window", 1000);
  spec.set_log_every_steps(1000000);
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  ASSERT_TRUE(WaitFor([&] { return Get(job.id()).state() == v1::JOB_STATE_RUNNING; }));
  const pid_t pid = workers_.back()->pid();
  ASSERT_TRUE(Catches(pid, SIGTERM) && Catches(pid, SIGINT));
  kill(pid, SIGTERM);
  // Once the first signal is handled, neither is caught any more.
  ASSERT_TRUE(WaitFor([&] { return !Catches(pid, SIGINT) && !Catches(pid, SIGTERM); }, 20));
  const int status = workers_.back()->Kill(SIGINT);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
}

}  // namespace
}  // namespace polytrain
