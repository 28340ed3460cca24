// The coordinator without its network face: the job store, the scheduler over it, the read-only
// queries, and the two APIs requests come through (ClientApi for clients, WorkerProtocol for
// workers), built in the order they depend on each other and torn down in reverse. The gRPC
// server (coordinator_server.h) wraps one; tests and the fuzzer drive one directly.
#ifndef POLYTRAIN_SERVER_COORDINATOR_CORE_H_
#define POLYTRAIN_SERVER_COORDINATOR_CORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/client_api.h"
#include "server/job_queries.h"
#include "server/scheduler.h"
#include "server/sqlite_job_store.h"
#include "server/worker_protocol.h"

namespace polytrain {

class CoordinatorCore {
 public:
  // Opens (or creates) the SQLite database at `db` (":memory:" for none) and loads its queued
  // and running jobs into the scheduler.
  static absl::StatusOr<std::unique_ptr<CoordinatorCore>> Open(const std::string& db,
                                                               const Scheduler::Options& options);
  ~CoordinatorCore();

  JobStore& store() { return *store_; }
  Scheduler& scheduler() { return *scheduler_; }
  ClientApi& client_api() { return *client_api_; }
  WorkerProtocol& worker_protocol() { return *worker_protocol_; }

 private:
  CoordinatorCore() = default;

  std::unique_ptr<SqliteJobStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<JobQueries> queries_;
  std::unique_ptr<ClientApi> client_api_;
  std::unique_ptr<WorkerProtocol> worker_protocol_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_CORE_H_
