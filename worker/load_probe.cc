#include "worker/load_probe.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace polytrain {
namespace {

std::mutex probe_mu;
std::string* probe_binary = nullptr;  // null: off
thread_local const std::atomic<bool>* probe_cancel = nullptr;
thread_local const std::atomic<bool>* probe_release = nullptr;

bool Set(const std::atomic<bool>* flag) { return flag != nullptr && flag->load(); }

// A signal that says the child crashed on the file, not that something stopped it.
bool IsCrash(int signal) {
  return signal == SIGSEGV || signal == SIGBUS || signal == SIGABRT || signal == SIGILL ||
         signal == SIGFPE;
}

}  // namespace

ProbeCancel::ProbeCancel(const std::atomic<bool>* cancel, const std::atomic<bool>* release)
    : previous_cancel_(probe_cancel), previous_release_(probe_release) {
  probe_cancel = cancel;
  probe_release = release;
}

ProbeCancel::~ProbeCancel() {
  probe_cancel = previous_cancel_;
  probe_release = previous_release_;
}

void BecomeLoadProbeChild() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // Started by posix_spawn, its descriptors 0-2 are /dev/null; the rest are its parent's.
  const int top = static_cast<int>(sysconf(_SC_OPEN_MAX));
  for (int fd = 3; fd < top && fd < 65536; ++fd) close(fd);
}

void EnableLoadProbe(const std::string& binary) {
  std::lock_guard<std::mutex> lock(probe_mu);
  delete probe_binary;
  probe_binary = binary.empty() ? nullptr : new std::string(binary);
}

absl::Status ProbeLoad(const std::string& path, ProbedFile kind, const std::string& field) {
  std::string binary;
  {
    std::lock_guard<std::mutex> lock(probe_mu);
    if (probe_binary == nullptr) return absl::OkStatus();
    binary = *probe_binary;
  }
  std::vector<std::string> args = {binary, kLoadProbeFlag, path,
                                   kind == ProbedFile::kTensors ? "tensors" : "torchscript"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Its output is of no use here (the load here says why a file is refused): discarded.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null",
                                     fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
  }
  pid_t pid = 0;
  // A process group of its own: a Ctrl-C or a signal to the worker's group is not the file's.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  const int spawned =
      posix_spawn(&pid, binary.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    spdlog::warn("{}: could not start the process that loads it first ({}); loading it unprobed",
                 field, std::strerror(spawned));
    return absl::OkStatus();
  }
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto wait = std::chrono::milliseconds(1);;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      kill(pid, SIGKILL);
      spdlog::warn(
          "{}: waiting for the process that loads it first failed ({}); loading it "
          "unprobed",
          field, std::strerror(errno));
      return absl::OkStatus();
    }
    if (Set(probe_cancel) || Set(probe_release)) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return absl::CancelledError(
          absl::StrCat(field, ": the job stopped while its file was being loaded"));
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(50));
  }
  if (WIFSIGNALED(status) && IsCrash(WTERMSIG(status))) {
    return InvalidField(
        field, absl::StrCat("LibTorch crashed reading it (signal ", WTERMSIG(status),
                            ", in a process of its own that loaded it first): a crafted or "
                            "damaged file, nesting its values or its code too deep for "
                            "LibTorch's recursion"));
  }
  if (WIFSIGNALED(status)) {
    return absl::UnavailableError(
        absl::StrCat(field, ": the process that loads it first was killed (signal ",
                     WTERMSIG(status), "; out of memory?)"));
  }
  spdlog::info(
      "{} ({}): loaded first in a process of its own in {:.0f} ms", field, path,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return absl::OkStatus();
}

}  // namespace polytrain
