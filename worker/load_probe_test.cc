// The load probe's parent side with stand-in children (shell scripts): a child that loads is
// OK, one that crashes fails the file naming the field, one killed otherwise is no verdict on the
// file, a cancel stops the wait and the child, and a child started ahead takes the file.
#include "worker/load_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

class LoadProbeTest : public ::testing::Test {
 protected:
  void TearDown() override { EnableLoadProbe(""); }
  // A stand-in for the worker's binary: `body` runs as a shell script. A new file each time: a
  // child started ahead may still be starting the last one (rewriting it fails: ETXTBSY).
  void ChildRuns(const std::string& body) {
    static int scripts = 0;
    const std::string path = ::testing::TempDir() + "/probe_child_" + std::to_string(getpid()) +
                             "_" + std::to_string(++scripts) + ".sh";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    EnableLoadProbe(path);
  }
};

TEST_F(LoadProbeTest, OffUnlessEnabled) {
  EXPECT_TRUE(ProbeLoad("/nonexistent", ProbedFile::kTensors, "f").ok());
}

TEST_F(LoadProbeTest, AChildThatLoadsOrRefusesLetsTheLoadGoOn) {
  ChildRuns("exit 0");
  EXPECT_TRUE(ProbeLoad("x.pt", ProbedFile::kTensors, "f").ok());
  ChildRuns("exit 1");  // refused: the load here says why, in its own words
  EXPECT_TRUE(ProbeLoad("x.pt", ProbedFile::kTorchScript, "f").ok());
}

TEST_F(LoadProbeTest, ACrashFailsTheFileAndAKillIsNoVerdictOnIt) {
  ChildRuns("kill -SEGV $$");
  const absl::Status crashed = ProbeLoad("x.pt", ProbedFile::kTorchScript, "spec.model.f");
  EXPECT_EQ(crashed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(crashed.message().rfind("spec.model.f: LibTorch crashed reading it (signal 11, ", 0),
            0u)
      << crashed;
  ChildRuns("kill -KILL $$");
  const absl::Status killed = ProbeLoad("x.pt", ProbedFile::kTensors, "f");
  EXPECT_EQ(killed.code(), absl::StatusCode::kUnavailable) << killed;
  EXPECT_NE(killed.message().find("was killed (signal 9; out of memory?)"), std::string::npos);
}

// A load that never ends (a model's own __setstate__ looping) must not hold the job past its
// cancel: the wait ends and the child is killed.
TEST_F(LoadProbeTest, ACancelEndsTheWaitAndTheChild) {
  ChildRuns("exec sleep 30");  // exec: the kill ends the sleep itself
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  absl::Status stopped;
  {
    const ProbeCancel scope(&cancel, nullptr);
    stopped = ProbeLoad("x.pt", ProbedFile::kTensors, "f");
  }
  canceller.join();
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled) << stopped;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // Outside the scope, the flag no longer applies.
  ChildRuns("exit 0");
  EXPECT_TRUE(ProbeLoad("x.pt", ProbedFile::kTensors, "f").ok());
}

// The number of lines in `path` (0 when it is missing).
int Lines(const std::string& path) {
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

// Waits (up to 20 s) until `path` has `lines` lines.
bool WaitForLines(const std::string& path, int lines) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Lines(path) < lines) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Two children are started ahead, before any job asks (so a job naming its model and its data
// waits for no LibTorch start): each takes a file on its input, and taking one starts the next.
// The stand-in logs each start and crashes unless it was started ahead and given exactly the
// request.
TEST_F(LoadProbeTest, AChildStartedAheadTakesTheFileOnItsInput) {
  const std::string starts = ::testing::TempDir() + "/probe_child_starts";
  std::remove(starts.c_str());
  const std::string path = ::testing::TempDir() + "/probe_child_ahead.sh";
  std::ofstream(path) << "#!/bin/bash\n"
                      << "echo \"$*\" >> " << starts << "\n"
                      << "[ \"$2\" = - ] || kill -SEGV $$\n"
                      << "[ \"$(tr '\\0' '|')\" = 'tensors|data dir/x.pt|' ] || kill -SEGV $$\n";
  chmod(path.c_str(), 0755);
  EnableLoadProbe(path);
  ASSERT_TRUE(WaitForLines(starts, 2));  // started ahead, before any probe
  // Two probes one right after the other (a job's data, then its model), each given to a child
  // started ahead; the takes start the next two.
  EXPECT_TRUE(ProbeLoad("data dir/x.pt", ProbedFile::kTensors, "f").ok());
  EXPECT_TRUE(ProbeLoad("data dir/x.pt", ProbedFile::kTensors, "f").ok());
  EXPECT_TRUE(WaitForLines(starts, 4));
  EXPECT_EQ(Lines(starts), 4);
  // Turned off, the waiting children are ended and no other starts.
  EnableLoadProbe("");
  EXPECT_TRUE(ProbeLoad("x.pt", ProbedFile::kTensors, "f").ok());
  EXPECT_EQ(Lines(starts), 4);
}

}  // namespace
}  // namespace polytrain
