#include "worker/child_connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "worker/child_spawn.h"
#include "worker/gang_child.h"
#include "worker/rendezvous_address.h"

namespace polytrain {
namespace {

constexpr int64_t kAlignment = 64;
constexpr int64_t kScratchBytes = int64_t{1} << 20;
// How long the child may take to start (LibTorch's start-up, about 0.4 s) and open.
constexpr std::chrono::seconds kStartTimeout{120};
// The child's stderr is cut back to nothing past this size (its last words are read at its end).
constexpr off_t kMaxStderrBytes = off_t{1} << 20;

int64_t Aligned(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

class ChildConnection : public GangConnection {
 public:
  explicit ChildConnection(GangOptions options) : options_(std::move(options)) {}
  ~ChildConnection() override;

  absl::Status Start();
  const std::string& rendezvous() const override { return rendezvous_; }
  absl::Status Join(const torch::Device& device) override;
  const char* backend() const override { return backend_; }
  bool in_own_process() const override { return true; }

  absl::Status ReserveBuckets(int64_t total) override {
    bucket_bytes_ = Aligned(total);
    // Room after the buckets for the sums of metrics, so that they map nothing anew.
    return Map(bucket_bytes_ + kScratchBytes, "gradient all-reduce");
  }
  torch::Tensor BucketMemory(int64_t offset, int64_t numel, torch::ScalarType dtype,
                             const torch::Device&) override {
    return torch::from_blob(base_ + offset, {numel}, dtype);
  }
  absl::Status LaunchSum(const torch::Tensor& flat) override {
    const int64_t offset = static_cast<const char*>(flat.data_ptr()) - base_;
    POLYTRAIN_RETURN_IF_ERROR(Send(GangOp::kSumGradients, flat, offset, "gradient all-reduce"));
    ++launched_;
    DrainLaunched();
    // The first error: the buckets after it are not sent (each might wait out the timeout).
    return !lost_.ok() ? lost_ : launched_status_;
  }
  absl::Status WaitLaunched() override {
    for (; launched_ > 0; --launched_) launched_status_.Update(AwaitReply("gradient all-reduce"));
    BoundStderr();
    absl::Status status = launched_status_;
    launched_status_ = absl::OkStatus();
    return status;
  }
  absl::Status Sum(torch::Tensor& values) override {
    return ThroughMemory(GangOp::kSum, values, "metric all-reduce");
  }
  absl::Status Broadcast(torch::Tensor& values) override {
    return ThroughMemory(GangOp::kBroadcast, values, "broadcast");
  }

 private:
  // The shared memory at least `bytes` long (both sides map it anew when it grows).
  absl::Status Map(int64_t bytes, const char* what);
  // `size`: kMap's (the memory's bytes).
  absl::Status Send(GangOp op, const torch::Tensor& tensor, int64_t offset, const char* what,
                    int64_t size = 0);
  // The child's next reply. A cancel meanwhile ends the child (CANCELLED): a rank whose peer
  // hangs (a stopped host) is not stuck in its collective, as it would be in this process.
  // Past `deadline` (the child's start), the child is ended too (UNAVAILABLE).
  absl::Status AwaitReply(const char* what, std::string* text = nullptr,
                          std::chrono::steady_clock::time_point deadline =
                              std::chrono::steady_clock::time_point::max());
  // Reads one reply (its status, or the child lost); false when `flags` has MSG_DONTWAIT and
  // none is there.
  absl::StatusOr<bool> ReadReply(const char* what, std::string* text, int flags);
  // Reads the replies to launched sums that came meanwhile: with hundreds of buckets unread they
  // would fill the socket, the child would wait to send the next, and this side to send to it.
  void DrainLaunched();
  // Ends the child for a cancel heard while waiting in `what`.
  absl::Status CancelledIn(const char* what);
  // Sums or broadcasts a copy of `values` placed after the buckets.
  absl::Status ThroughMemory(GangOp op, torch::Tensor& values, const char* what);
  // The child is gone (or must go): why, for every call from now on. `closed`: its socket
  // closed, so it is ending (waited for, up to 2 s); otherwise it is ended at once.
  absl::Status Lost(const char* what, const std::string& why, bool closed = true);
  void End();
  // Cuts the child's stderr back to nothing once it passed kMaxStderrBytes (c10d's warnings
  // must not fill the worker's memory over a long run).
  void BoundStderr();

  const GangOptions options_;
  std::string rendezvous_;
  const char* backend_ = "none";
  pid_t pid_ = 0;
  int socket_ = -1;
  int memory_fd_ = -1;
  int stderr_fd_ = -1;  // the child's stderr: its last words when it dies
  char* base_ = nullptr;
  int64_t mapped_ = 0;
  int64_t bucket_bytes_ = 0;
  int launched_ = 0;              // sums launched whose replies are not read yet
  absl::Status launched_status_;  // the first error among the launched sums' replies
  absl::Status lost_;
};

ChildConnection::~ChildConnection() {
  End();
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(mapped_));
  for (int fd : {memory_fd_, stderr_fd_}) {
    if (fd >= 0) close(fd);
  }
}

void ChildConnection::BoundStderr() {
  struct stat file;
  if (stderr_fd_ < 0 || fstat(stderr_fd_, &file) != 0 || file.st_size <= kMaxStderrBytes) return;
  // It writes at the end (O_APPEND), wherever that is now.
  if (ftruncate(stderr_fd_, 0) != 0) return;  // tried again after the next step
}

void ChildConnection::End() {
  if (socket_ >= 0) close(socket_);
  socket_ = -1;
  if (pid_ == 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
}

absl::Status ChildConnection::Lost(const char* what, const std::string& why, bool closed) {
  if (!lost_.ok()) return lost_;
  int status = 0;
  bool reaped = false;
  bool killed_here = false;
  if (pid_ != 0) {
    // Its socket closed: it is ending, or ended already. One whose socket failed otherwise is
    // given two seconds to end, then ended.
    if (socket_ >= 0) close(socket_);
    socket_ = -1;
    for (int look = 0; closed && look < 200 && !reaped; ++look) {
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      reaped = done == pid_;
      if (done < 0 && errno != EINTR) break;
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      killed_here = true;
      reaped = waitpid(pid_, &status, 0) == pid_;
    }
    pid_ = 0;
  }
  std::string ended = why;
  if (reaped && WIFSIGNALED(status) && !killed_here) {
    const int signal = WTERMSIG(status);
    ended = absl::StrCat(
        "it was ended by signal ", signal, " (", strsignal(signal),
        signal == SIGABRT ? ": e.g. Gloo aborts it when a peer sends what it cannot take"
        : signal == SIGKILL
            ? ": a kill from outside, or the kernel short of memory, which ends it first "
              "(oom_score_adj 1000)"
            : "",
        ")");
  } else if (reaped && WIFEXITED(status)) {
    ended = absl::StrCat("it exited with code ", WEXITSTATUS(status));
  }
  // Its own words on stderr: the last `what():` line (an exception's), else its last line.
  std::string last_words;
  if (stderr_fd_ >= 0) {
    struct stat file;
    const off_t size = fstat(stderr_fd_, &file) == 0 ? file.st_size : 0;
    const off_t from = std::max<off_t>(0, size - 4096);
    std::string tail(static_cast<size_t>(std::max<off_t>(0, size - from)), '\0');
    if (size > 0 && pread(stderr_fd_, tail.data(), tail.size(), from) > 0) {
      std::vector<std::string> lines =
          absl::StrSplit(absl::StripTrailingAsciiWhitespace(tail), '\n');
      std::string chosen = lines.back();
      for (const std::string& line : lines) {
        if (line.find("what():") != std::string::npos) chosen = line;
      }
      last_words = std::string(absl::StripLeadingAsciiWhitespace(chosen)).substr(0, 300);
    }
  }
  lost_ = absl::UnavailableError(
      absl::StrCat("data-parallel ", what, " failed on rank ", options_.rank,
                   ": the process that carries this rank's gang traffic is gone: ", ended,
                   last_words.empty() ? "" : absl::StrCat("; its last words: ", last_words)));
  return lost_;
}

absl::Status ChildConnection::Start() {
  const GangOptions& o = options_;
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "rank ", o.rank, ": a socket pair for the gang's process: ", std::strerror(errno)));
  }
  socket_ = sockets[0];
  memory_fd_ = memfd_create("polytrain-gang-memory", MFD_CLOEXEC);
  stderr_fd_ = memfd_create("polytrain-gang-stderr", MFD_CLOEXEC);
  if (memory_fd_ < 0 || stderr_fd_ < 0 || fcntl(stderr_fd_, F_SETFL, O_APPEND) != 0) {
    close(sockets[1]);
    return absl::UnavailableError(
        absl::StrCat("rank ", o.rank, ": memory for the gang's process: ", std::strerror(errno)));
  }
  std::vector<std::string> args = {
      "polytrain-worker",  // as ps shows it
      kGangChildFlag,     absl::StrCat(o.rank),           absl::StrCat(o.world_size), o.host,
      o.rendezvous,       absl::StrCat(o.timeout.count())};
  // Its stdout is of no use (the gang's words go to the job's log through its replies).
  ChildDescriptors descriptors;
  descriptors.input = sockets[1];
  descriptors.errors = stderr_fd_;
  descriptors.extra = memory_fd_;  // its kGangMemoryFd
  static_assert(kGangMemoryFd == kChildExtraDescriptor);
  const int spawned = SpawnChild(o.process_binary, std::move(args), descriptors, &pid_);
  close(sockets[1]);
  if (spawned != 0) {
    pid_ = 0;
    return absl::UnavailableError(absl::StrCat("rank ", o.rank, ": starting the gang's process (",
                                               o.process_binary, "): ", std::strerror(spawned)));
  }
  POLYTRAIN_RETURN_IF_ERROR(
      AwaitReply("rendezvous", &rendezvous_, std::chrono::steady_clock::now() + kStartTimeout));
  if (o.rank != 0) rendezvous_ = o.rendezvous;
  return absl::OkStatus();
}

absl::Status ChildConnection::Join(const torch::Device& device) {
  if (!device.is_cpu()) {
    return absl::InternalError(
        absl::StrCat("rank ", options_.rank, ": a gang on the GPU joins in the worker's process"));
  }
  POLYTRAIN_RETURN_IF_ERROR(Send(GangOp::kJoin, torch::Tensor(), 0, "join"));
  POLYTRAIN_RETURN_IF_ERROR(AwaitReply("join"));
  backend_ = "gloo";
  return absl::OkStatus();
}

absl::Status ChildConnection::Map(int64_t bytes, const char* what) {
  if (bytes <= mapped_) return absl::OkStatus();
  const int64_t size = std::max(Aligned(bytes), 2 * mapped_);
  // The old mapping stays until the new one is made: a failure leaves the memory as it was.
  void* mapped = MAP_FAILED;
  if (ftruncate(memory_fd_, size) == 0) {
    mapped =
        mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, memory_fd_, 0);
  }
  if (mapped == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("data-parallel ", what, " on rank ", options_.rank, ": ", size,
                     " bytes of memory shared with the gang's process: ", std::strerror(errno)));
  }
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(mapped_));
  base_ = static_cast<char*>(mapped);
  mapped_ = size;
  POLYTRAIN_RETURN_IF_ERROR(Send(GangOp::kMap, torch::Tensor(), 0, what, size));
  const absl::Status mapped_there = AwaitReply(what);
  if (!mapped_there.ok() && lost_.ok()) {
    // The two sides no longer map the same memory: the gang is lost to this rank.
    End();
    lost_ = absl::UnavailableError(mapped_there.message());
  }
  return mapped_there.ok() ? mapped_there : lost_;
}

absl::Status ChildConnection::Send(GangOp op, const torch::Tensor& tensor, int64_t offset,
                                   const char* what, int64_t size) {
  if (!lost_.ok()) return lost_;
  GangRequest request;
  request.op = op;
  request.numel = size;
  if (tensor.defined()) {
    request.dtype = static_cast<int32_t>(tensor.scalar_type());
    request.offset = offset;
    request.numel = tensor.numel();
  }
  for (;;) {
    const ssize_t sent = send(socket_, &request, sizeof(request), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == static_cast<ssize_t>(sizeof(request))) return absl::OkStatus();
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Its requests fill the socket (a child stuck in a collective with a hung peer): replies
      // are read and a cancel heard meanwhile.
      DrainLaunched();
      if (!lost_.ok()) return lost_;
      pollfd ready{socket_, POLLOUT, 0};
      poll(&ready, 1, 100);
      if (Cancelled(options_.cancel)) return CancelledIn(what);
      continue;
    }
    const bool closed = sent < 0 && (errno == EPIPE || errno == ECONNRESET);
    return Lost(what, absl::StrCat("its socket: ", std::strerror(errno)), closed);
  }
}

void ChildConnection::DrainLaunched() {
  while (launched_ > 0) {
    absl::StatusOr<bool> read = ReadReply("gradient all-reduce", nullptr, MSG_DONTWAIT);
    if (read.ok() && !*read) return;
    launched_status_.Update(read.status());
    --launched_;
  }
}

absl::Status ChildConnection::CancelledIn(const char* what) {
  End();
  lost_ = absl::CancelledError(absl::StrCat(
      "rank ", options_.rank, ": ",
      std::string(what) == "join" ? "cancelled while joining the gang"
                                  : absl::StrCat("cancelled in the data-parallel ", what)));
  return lost_;
}

absl::Status ChildConnection::AwaitReply(const char* what, std::string* text,
                                         std::chrono::steady_clock::time_point deadline) {
  if (!lost_.ok()) return lost_;
  for (;;) {
    pollfd ready{socket_, POLLIN, 0};
    const int polled = poll(&ready, 1, 100);
    if (polled < 0 && errno != EINTR) {
      return Lost(what, absl::StrCat("waiting for it: ", std::strerror(errno)), false);
    }
    if (polled > 0) break;
    if (Cancelled(options_.cancel)) return CancelledIn(what);
    if (std::chrono::steady_clock::now() >= deadline) {
      End();
      lost_ = absl::UnavailableError(absl::StrCat(
          "rank ", options_.rank,
          ": the process that carries this rank's gang traffic did not "
          "start within ",
          std::chrono::duration_cast<std::chrono::seconds>(kStartTimeout).count(), " s"));
      return lost_;
    }
  }
  absl::StatusOr<bool> read = ReadReply(what, text, 0);
  return read.status();
}

absl::StatusOr<bool> ChildConnection::ReadReply(const char* what, std::string* text, int flags) {
  if (!lost_.ok()) return lost_;
  char buffer[kMaxGangReplyBytes];
  ssize_t got;
  while ((got = recv(socket_, buffer, sizeof(buffer), flags)) < 0 && errno == EINTR) {
  }
  if (got < 0 && (flags & MSG_DONTWAIT) != 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return false;
  }
  if (got < static_cast<ssize_t>(sizeof(GangReply))) {
    const bool closed = got == 0 || errno == ECONNRESET;
    return Lost(what, got < 0 ? std::strerror(errno) : "its socket closed", closed);
  }
  GangReply reply;
  std::memcpy(&reply, buffer, sizeof(reply));
  std::string said(buffer + sizeof(reply), static_cast<size_t>(got) - sizeof(reply));
  if (reply.code != 0) return absl::Status(static_cast<absl::StatusCode>(reply.code), said);
  if (text != nullptr) *text = std::move(said);
  return true;
}

absl::Status ChildConnection::ThroughMemory(GangOp op, torch::Tensor& values, const char* what) {
  POLYTRAIN_RETURN_IF_ERROR(WaitLaunched());
  if (!values.device().is_cpu() || !values.is_contiguous()) {
    return absl::InternalError(absl::StrCat("data-parallel ", what, " on rank ", options_.rank,
                                            ": the gang's process takes contiguous host tensors "
                                            "only"));
  }
  POLYTRAIN_RETURN_IF_ERROR(Map(bucket_bytes_ + values.nbytes(), what));
  torch::Tensor shared =
      torch::from_blob(base_ + bucket_bytes_, values.sizes(), values.scalar_type());
  shared.copy_(values);
  POLYTRAIN_RETURN_IF_ERROR(Send(op, shared, bucket_bytes_, what));
  POLYTRAIN_RETURN_IF_ERROR(AwaitReply(what));
  values.copy_(shared);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GangConnection>> OpenChildConnection(const GangOptions& options) {
  auto connection = std::make_unique<ChildConnection>(options);
  POLYTRAIN_RETURN_IF_ERROR(connection->Start());
  return std::unique_ptr<GangConnection>(std::move(connection));
}

}  // namespace polytrain
