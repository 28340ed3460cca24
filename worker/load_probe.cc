#include "worker/load_probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "spdlog/spdlog.h"
#include "worker/child_spawn.h"

namespace polytrain {
namespace {

thread_local const std::atomic<bool>* probe_cancel = nullptr;
thread_local const std::atomic<bool>* probe_release = nullptr;

bool Set(const std::atomic<bool>* flag) { return flag != nullptr && flag->load(); }

// A signal that says the child crashed on the file, not that something stopped it.
bool IsCrash(int signal) {
  return signal == SIGSEGV || signal == SIGBUS || signal == SIGABRT || signal == SIGILL ||
         signal == SIGFPE;
}

void Reap(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

// Starts `binary` with `args` (after argv[0]), its stdin `input` (or /dev/null when -1); its
// output is of no use here (the load here says why a file is refused): discarded.
int Spawn(const std::string& binary, std::vector<std::string> args, int input, pid_t* pid) {
  args.insert(args.begin(), binary);
  ChildDescriptors descriptors;
  descriptors.input = input;
  return SpawnChild(binary, std::move(args), descriptors, pid);
}

// A child started ahead, LibTorch loaded, waiting on its stdin (a socket) for the file to load:
// starting one costs LibTorch's start-up (~0.45 s, most of a probe's time), which a job then
// does not wait for. kWaitingChildren wait at a time, so that a job naming its own model and
// data (two probes, one right after the other) waits for neither start-up (probe DH: the second
// file waited 0.6-2.3 s for a child of its own); taking one starts the next, from a thread that
// lives as long as the worker (a child dies with the thread that started it: PR_SET_PDEATHSIG).
// Each waiting child holds ~60 MB of its own memory (LibTorch's files are shared).
constexpr size_t kWaitingChildren = 2;

struct WaitingChild {
  pid_t pid = 0;
  int socket = -1;  // our end of its stdin
};

class ChildPool {
 public:
  // Off (empty) or `binary`; a child waiting for another binary is ended.
  void Enable(const std::string& binary) {
    std::vector<WaitingChild> old;
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      binary_ = binary;
      old.swap(waiting_);
      generation = ++generation_;
      enabling_ = !binary.empty();
    }
    for (const WaitingChild& child : old) End(child);
    if (binary.empty()) return;
    // The first from this thread (the worker's main, which outlives every job); the refill
    // thread starts the others.
    StartOne(binary, generation);
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_) enabling_ = false;
    refill_.notify_one();
    if (!started_) {
      started_ = true;
      std::thread([this] { Refill(); }).detach();
    }
  }

  std::string binary() {
    std::lock_guard<std::mutex> lock(mu_);
    return binary_;
  }

  // The child waiting longest, if one is; the next is started meanwhile.
  std::optional<WaitingChild> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    refill_.notify_one();  // also when none waits: one that could not start is tried again
    if (waiting_.empty()) return std::nullopt;
    const WaitingChild taken = waiting_.front();
    waiting_.erase(waiting_.begin());
    return taken;
  }

 private:
  static void End(const WaitingChild& child) {
    if (child.pid == 0) return;
    close(child.socket);  // it reads no file and ends; killed in case it is still starting
    kill(child.pid, SIGKILL);
    int status = 0;
    Reap(child.pid, &status);
  }

  // False when no child could be started.
  bool StartOne(const std::string& binary, uint64_t generation) {
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) return false;
    pid_t pid = 0;
    const int spawned = Spawn(binary, {kLoadProbeFlag, "-"}, sockets[1], &pid);
    close(sockets[1]);
    if (spawned != 0) {
      close(sockets[0]);
      return false;  // a probe then starts its own child, and says so if that fails too
    }
    WaitingChild stale{pid, sockets[0]};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation == generation_ && waiting_.size() < kWaitingChildren) {
        waiting_.push_back(stale);
        stale = WaitingChild{};
      }
    }
    End(stale);
    return true;
  }

  void Refill() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      refill_.wait(lock, [this] {
        return waiting_.size() < kWaitingChildren && !binary_.empty() && !enabling_;
      });
      const std::string binary = binary_;
      const uint64_t generation = generation_;
      lock.unlock();
      const bool started = StartOne(binary, generation);
      lock.lock();
      // One that could not be started is tried again at the next take, not in a loop. (One
      // started and taken already is not a failure: the take's notice may have come while this
      // thread was not waiting.)
      if (!started && generation == generation_) refill_.wait(lock);
    }
  }

  std::mutex mu_;
  std::condition_variable refill_;
  std::string binary_;
  std::vector<WaitingChild> waiting_;  // oldest first, at most kWaitingChildren
  uint64_t generation_ = 0;            // of binary_: a child started for an earlier one is not kept
  // Enable is starting the first child for binary_: the refill thread, back from starting one
  // for an earlier binary, must not start another meanwhile.
  bool enabling_ = false;
  bool started_ = false;
};

ChildPool& Pool() {
  static ChildPool* pool = new ChildPool();  // never destroyed: its thread may still use it
  return *pool;
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
}

void EnableLoadProbe(const std::string& binary) { Pool().Enable(binary); }

std::optional<std::pair<std::string, std::string>> ReadLoadProbeRequest(int fd) {
  std::string request;
  char buffer[4096];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    request.append(buffer, static_cast<size_t>(got));
    if (request.size() > kMaxLoadProbeRequestBytes) return std::nullopt;
  }
  const size_t split = request.find('\0');
  if (split == std::string::npos || request.empty() || request.back() != '\0') return std::nullopt;
  return std::make_pair(request.substr(0, split),
                        request.substr(split + 1, request.size() - split - 2));
}

absl::Status ProbeLoad(const std::string& path, ProbedFile kind, const std::string& field) {
  const std::string binary = Pool().binary();
  if (binary.empty()) return absl::OkStatus();
  const std::string kind_name = kind == ProbedFile::kTensors ? "tensors" : "torchscript";
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (std::optional<WaitingChild> waiting = Pool().Take()) {
    // "kind\0path\0", then the end of its input. A child that is gone (it could not start)
    // cannot take it: reaped, and one is started for this file alone.
    const std::string request =
        absl::StrCat(kind_name, std::string(1, '\0'), path, std::string(1, '\0'));
    const bool sent = send(waiting->socket, request.data(), request.size(), MSG_NOSIGNAL) ==
                      static_cast<ssize_t>(request.size());
    close(waiting->socket);
    if (sent) {
      pid = waiting->pid;
    } else {
      kill(waiting->pid, SIGKILL);
      int ignored = 0;
      Reap(waiting->pid, &ignored);
    }
  }
  if (pid == 0) {
    if (const int spawned = Spawn(binary, {kLoadProbeFlag, path, kind_name}, -1, &pid);
        spawned != 0) {
      spdlog::warn("{}: could not start the process that loads it first ({}); loading it unprobed",
                   field, std::strerror(spawned));
      return absl::OkStatus();
    }
  }
  int status = 0;
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
      Reap(pid, &status);
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
      "{}{}: loaded first in a process of its own in {:.0f} ms", field,
      field == path ? "" : absl::StrCat(" (", path, ")"),  // a checkpoint is named by its path
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return absl::OkStatus();
}

}  // namespace polytrain
