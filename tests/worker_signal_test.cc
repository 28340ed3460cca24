// A service worker's signals: the first SIGINT or SIGTERM gives its jobs back to the coordinator
// (up to --drain_seconds, 20 by default: each trains on to the end of its logging window, and
// the worker waits for the coordinator's acknowledgement); a second one of either, while it does
// that, ends the process at once, killed by that signal, as a standalone run's second Ctrl-C does.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

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

// --drain_seconds bounds the give-back: a job still training when a quarter of a short drain is
// left (its logging window far from closing) is cancelled there, still as given back, and its
// report reaches the coordinator before the worker exits, so the job is queued at once rather
// than left to its lease; the worker's log says no checkpoint was stored where it stopped.
// A job submitted meanwhile goes nowhere near it, though it has a free slot: the worker says
// it drains as the drain begins (probe DD: such jobs were placed there and bounced back).
TEST_F(WorkerSignalTest, AShortDrainCutsAJobWhoseWindowDoesNotCloseAndStillGivesItBack) {
  coordinator_log_ = (dir_ / "coordinator.log").string();
  StartCoordinator(/*lease_seconds=*/3600);
  const std::string log = (dir_ / "cut.log").string();
  workers_.push_back(std::make_unique<testing::Process>(
      POLYTRAIN_WORKER_BINARY,
      std::vector<std::string>{"--coordinator", "127.0.0.1:" + std::to_string(port_), "--name",
                               "cut", "--drain_seconds", "5", "--slots", "2"},
      log));
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto output = [&] { return read(log); };
  // A window ends every log_every_steps and at an epoch's end: here neither within seconds
  // (8000 steps of a 1024-wide MLP, milliseconds each).
  v1::JobSpec spec = Spec("endless-window", 1);
  spec.set_log_every_steps(1000000);
  spec.mutable_model()->mutable_mlp()->clear_hidden();
  spec.mutable_model()->mutable_mlp()->add_hidden(1024);
  spec.mutable_model()->mutable_mlp()->add_hidden(1024);
  spec.mutable_dataset()->mutable_synthetic()->set_train_samples(400000);
  spec.mutable_eval()->set_every_steps(20);  // an evaluation closes no window
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  // Evaluated at step 20: it is training, inside its first window.
  ASSERT_TRUE(WaitFor([&] { return !Metrics(job.id()).empty(); }));
  ASSERT_EQ(kill(workers_.back()->pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitFor([&] {
    return read(coordinator_log_).find("worker cut is shutting down: it takes no new job") !=
           std::string::npos;
  }));
  Job later;
  ASSERT_TRUE(Submit(Spec("submitted-during-the-drain"), &later).ok());
  EXPECT_EQ(workers_.back()->WaitWithin(std::chrono::seconds(30)), 0);
  EXPECT_EQ(Get(later.id()).attempts(), 0) << Get(later.id()).error();
  const Job released = Get(job.id());
  EXPECT_EQ(released.state(), v1::JOB_STATE_QUEUED) << released.error();
  EXPECT_EQ(released.error(), "worker cut shut down during attempt 1 and gave the job back");
  EXPECT_TRUE(released.checkpoint().empty()) << released.checkpoint();
  const std::string said = output();
  EXPECT_NE(said.find("cut: SIGTERM received: giving running jobs back to the coordinator (up to "
                      "5 s)"),
            std::string::npos)
      << said;
  // Cut where a quarter of the drain was left (3.75 s in), not at once: it trained on till then
  // (spdlog's time of day, to the millisecond, on the lines that say each).
  auto seconds_at = [&said](const std::string& line) {
    const size_t at = said.rfind('\n', said.find(line)) + 1;
    int hours = 0, minutes = 0;
    double seconds = 0;
    EXPECT_EQ(std::sscanf(said.c_str() + at + 11, "%d:%d:%lf", &hours, &minutes, &seconds), 3)
        << line;
    return hours * 3600 + minutes * 60 + seconds;
  };
  EXPECT_GE(seconds_at(" given back at step ") - seconds_at("SIGTERM received"), 3.7) << said;
  EXPECT_NE(said.find(" with no checkpoint stored there: the next attempt resumes from the last "
                      "one stored"),
            std::string::npos)
      << said;
}

}  // namespace
}  // namespace polytrain
