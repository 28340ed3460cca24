#include "worker/load_probe.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace polytrain {
namespace {

std::mutex probe_mu;
std::string* probe_binary = nullptr;  // null: off

}  // namespace

void EnableLoadProbe(const std::string& binary) {
  std::lock_guard<std::mutex> lock(probe_mu);
  delete probe_binary;
  probe_binary = new std::string(binary);
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
  const int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    spdlog::warn("{}: could not start the process that loads it first ({}); loading it unprobed",
                 field, strerror(spawned));
    return absl::OkStatus();
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      spdlog::warn(
          "{}: waiting for the process that loads it first failed ({}); loading it "
          "unprobed",
          field, strerror(errno));
      return absl::OkStatus();
    }
  }
  if (WIFSIGNALED(status)) {
    return InvalidField(
        field, absl::StrCat("LibTorch crashed reading it (signal ", WTERMSIG(status), ", ",
                            strsignal(WTERMSIG(status)),
                            ", in a process of its own that loaded it first): a crafted or "
                            "damaged file, nesting its values or its code too deep for "
                            "LibTorch's recursion"));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
