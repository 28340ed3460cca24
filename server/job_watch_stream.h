// One WatchJob stream: the job as it is, its metric history, then its live events until it ends.
//
// The history is read from the store in pages as the client takes them, outside the scheduler's
// lock, so a long history holds up no other call and costs a page of memory, not the whole
// history. Live events wait in a backlog while the history is sent and while the client reads;
// a client that falls further behind than the backlog bound is cut off (RESOURCE_EXHAUSTED), so
// a watcher that stops reading cannot grow the coordinator's memory. Each caller holds at most
// a set number of watches at once.
#ifndef POLYTRAIN_SERVER_JOB_WATCH_STREAM_H_
#define POLYTRAIN_SERVER_JOB_WATCH_STREAM_H_

#include <cstdint>
#include <functional>

#include "grpcpp/grpcpp.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/caller_quota.h"
#include "server/client_api.h"
#include "server/coordinator_metrics.h"

namespace polytrain {

// What an event costs in memory beyond its serialized bytes (buffer and queue bookkeeping).
inline constexpr int64_t kEventOverheadBytes = 64;

struct WatchLimits {
  // Watches one caller may hold open at once (without --tokens every caller is one).
  int per_caller = 64;
  // Bytes of events (each counted with kEventOverheadBytes more) that may wait for one slow
  // client before its watch is cut off. With per_caller, it bounds what one caller's watches
  // can hold in the coordinator's memory: 64 x 4 MiB.
  int64_t backlog_bytes = int64_t{4} << 20;
  // Points of the history read from the store at a time.
  int history_page = 512;
};

// Starts the stream for a WatchJob call. `quota` counts the caller's open watches (sized by
// WatchLimits::per_caller); `metrics` may be null. `refused` (may be null) is told when an
// authenticated caller is refused the job it asked for (PERMISSION_DENIED: another user's).
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartJobWatch(
    grpc::CallbackServerContext* context, ClientApi* api, CoordinatorMetrics* metrics,
    CallerQuota* quota, const WatchLimits& limits, const grpc::ByteBuffer& request,
    const absl::StatusOr<Caller>& caller,
    std::function<void(const absl::Status&)> refused = nullptr);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_WATCH_STREAM_H_
