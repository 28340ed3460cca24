// The process that carries one rank's gang traffic (worker/child_connection.h is its parent's
// side): polytrain-worker started as `<binary> --gang_connection RANK WORLD HOST RENDEZVOUS
// TIMEOUT_MS`, its stdin a SOCK_SEQPACKET socket to the rank's worker, descriptor 3 the memory
// both map (the tensors to sum and broadcast), its stderr a file the parent reads when it dies.
// It opens a c10d connection in itself (worker/c10d_connection.h), answers the open with its
// rendezvous, then serves one request at a time with one reply each, until its socket closes.
#ifndef POLYTRAIN_WORKER_GANG_CHILD_H_
#define POLYTRAIN_WORKER_GANG_CHILD_H_

#include <cstddef>
#include <cstdint>

namespace polytrain {

inline constexpr char kGangChildFlag[] = "--gang_connection";
inline constexpr int kGangMemoryFd = 3;

// kSumGradients sums as kSum does; its errors name the gradient all-reduce.
enum class GangOp : int32_t { kJoin = 1, kMap = 2, kSum = 3, kBroadcast = 4, kSumGradients = 5 };

struct GangRequest {
  GangOp op = GangOp::kJoin;
  int32_t dtype = 0;   // c10::ScalarType of the sums and kBroadcast
  int64_t offset = 0;  // where their tensor starts in the shared memory, in bytes
  int64_t numel = 0;   // its elements; kMap: the shared memory's size in bytes
};

// A reply: its absl::StatusCode, then its text (the open's: the rendezvous; an error's message).
struct GangReply {
  int32_t code = 0;
};
inline constexpr size_t kMaxGangReplyBytes = 8192;

// The child's main, with argv as above (argv[1] the flag); its exit code.
int RunGangChild(int argc, char** argv);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GANG_CHILD_H_
