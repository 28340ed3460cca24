#include "worker/gang_child.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/c10d_connection.h"
#include "worker/gang_options.h"

namespace polytrain {
namespace {

bool Reply(const absl::Status& status, const std::string& text) {
  std::string message(sizeof(GangReply), '\0');
  GangReply reply;
  reply.code = static_cast<int32_t>(status.code());
  std::memcpy(message.data(), &reply, sizeof(reply));
  message += status.ok() ? text : std::string(status.message());
  message.resize(std::min(message.size(), kMaxGangReplyBytes));
  return send(STDIN_FILENO, message.data(), message.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(message.size());
}

// The types c10d's Gloo sums and broadcasts (a model's buffers may be bool or uint8 masks).
bool KnownType(int32_t dtype) {
  switch (static_cast<torch::ScalarType>(dtype)) {
    case torch::kFloat:
    case torch::kDouble:
    case torch::kHalf:
    case torch::kBFloat16:
    case torch::kBool:
    case torch::kByte:
    case torch::kChar:
    case torch::kShort:
    case torch::kInt:
    case torch::kLong:
      return true;
    default:
      return false;
  }
}

// The shared memory as the parent last sized it.
struct Mapping {
  int rank = 0;  // for the errors
  char* base = nullptr;
  int64_t bytes = 0;
  ~Mapping() {
    if (base != nullptr) munmap(base, static_cast<size_t>(bytes));
  }
  // The old mapping stays until the new one is made.
  absl::Status Resize(int64_t size) {
    void* mapped = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED,
                        kGangMemoryFd, 0);
    if (mapped == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("rank ", rank, "'s gang process: mapping ", size,
                       " bytes of shared memory: ", std::strerror(errno)));
    }
    if (base != nullptr) munmap(base, static_cast<size_t>(bytes));
    base = static_cast<char*>(mapped);
    bytes = size;
    return absl::OkStatus();
  }
  // The request's tensor, if it lies inside the mapping.
  absl::StatusOr<torch::Tensor> View(const GangRequest& request) const {
    if (!KnownType(request.dtype)) {
      return absl::InternalError(absl::StrCat("rank ", rank, "'s gang process: tensors of type ",
                                              request.dtype, " cannot be summed or broadcast"));
    }
    const auto dtype = static_cast<torch::ScalarType>(request.dtype);
    const int64_t size = c10::elementSize(dtype);
    if (request.offset < 0 || request.numel < 0 || request.offset > bytes ||
        request.numel > (bytes - request.offset) / size) {
      return absl::InternalError(
          absl::StrCat("rank ", rank, "'s gang process: ", request.numel, " elements at byte ",
                       request.offset, " lie outside the ", bytes, " bytes of shared memory"));
    }
    return torch::from_blob(base + request.offset, {request.numel}, dtype);
  }
};

}  // namespace

int RunGangChild(int argc, char** argv) {
  // It dies with the thread that started it and writes no core file (an abort is an answer
  // here). Its parent gave it no file but its socket, the memory and its stderr.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // A peer that resets a connection must cost a failed write, as in the worker.
  std::signal(SIGPIPE, SIG_IGN);
  // A peer's frame may ask for any length: short of memory, the kernel ends this process first,
  // not the worker.
  if (FILE* score = std::fopen("/proc/self/oom_score_adj", "w")) {
    std::fputs("1000", score);
    std::fclose(score);
  }

  GangOptions options;
  int64_t timeout_ms = 0;
  if (argc != 7 || !absl::SimpleAtoi(argv[2], &options.rank) ||
      !absl::SimpleAtoi(argv[3], &options.world_size) || !absl::SimpleAtoi(argv[6], &timeout_ms) ||
      timeout_ms <= 0) {
    Reply(absl::InternalError(absl::StrCat("the gang's process was started with arguments it "
                                           "cannot read (",
                                           argc, " of them)")),
          "");
    return 2;
  }
  options.host = argv[4];
  options.rendezvous = argv[5];
  options.timeout = std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<std::unique_ptr<GangConnection>> connection = OpenC10dConnection(options);
  if (!Reply(connection.status(), connection.ok() ? (*connection)->rendezvous() : "") ||
      !connection.ok()) {
    return 0;
  }
  Mapping memory;
  memory.rank = options.rank;
  for (;;) {
    GangRequest request;
    const ssize_t got = recv(STDIN_FILENO, &request, sizeof(request), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) return 0;  // the parent is done with the gang
    if (got != static_cast<ssize_t>(sizeof(request))) return 1;
    absl::Status status;
    switch (request.op) {
      case GangOp::kJoin:
        status = (*connection)->Join(torch::kCPU);
        break;
      case GangOp::kMap:
        status = memory.Resize(request.numel);
        break;
      case GangOp::kSum:
      case GangOp::kSumGradients:
      case GangOp::kBroadcast: {
        absl::StatusOr<torch::Tensor> tensor = memory.View(request);
        if (!tensor.ok()) {
          status = tensor.status();
        } else if (request.op == GangOp::kSumGradients) {
          status = (*connection)->LaunchSum(*tensor);
          status.Update((*connection)->WaitLaunched());
        } else if (request.op == GangOp::kSum) {
          status = (*connection)->Sum(*tensor);
        } else {
          status = (*connection)->Broadcast(*tensor);
        }
        break;
      }
      default:
        status =
            absl::InternalError(absl::StrCat("rank ", options.rank, "'s gang process: request ",
                                             static_cast<int>(request.op), " is unknown"));
    }
    if (!Reply(status, "")) return 1;
  }
}

}  // namespace polytrain
