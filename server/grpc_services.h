// The gRPC face of the Coordinator (callback API): thin handlers that call the Coordinator and
// turn its Status into a grpc::Status, plus the reactor behind each worker's stream.
#ifndef POLYTRAIN_SERVER_GRPC_SERVICES_H_
#define POLYTRAIN_SERVER_GRPC_SERVICES_H_

#include "polytrain/v1/coordinator.grpc.pb.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "server/access_control.h"
#include "server/artifact_store.h"
#include "server/coordinator.h"

namespace polytrain {

class CoordinatorService final : public polytrain::v1::Coordinator::CallbackService {
 public:
  // `metrics` (may be null) receives each RPC's method, code and duration; `access` decides
  // who the caller is (every call is refused before it reaches the Coordinator otherwise).
  CoordinatorService(Coordinator* coordinator, CoordinatorMetrics* metrics,
                     const AccessControl* access)
      : coordinator_(coordinator), metrics_(metrics), access_(access) {}

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const polytrain::v1::SubmitJobRequest* request,
                                      polytrain::v1::Job* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const polytrain::v1::GetJobRequest* request,
                                   polytrain::v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const polytrain::v1::ListJobsRequest* request,
                                     polytrain::v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const polytrain::v1::CancelJobRequest* request,
                                      polytrain::v1::Job* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const polytrain::v1::GetMetricsRequest* request,
                                       polytrain::v1::GetMetricsResponse* response) override;
  grpc::ServerUnaryReactor* SubmitSweep(grpc::CallbackServerContext* context,
                                        const polytrain::v1::SubmitSweepRequest* request,
                                        polytrain::v1::SubmitSweepResponse* response) override;
  grpc::ServerUnaryReactor* CompareJobs(grpc::CallbackServerContext* context,
                                        const polytrain::v1::CompareJobsRequest* request,
                                        polytrain::v1::CompareJobsResponse* response) override;
  grpc::ServerWriteReactor<polytrain::v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context, const polytrain::v1::WatchJobRequest* request) override;

 private:
  Coordinator* coordinator_;
  CoordinatorMetrics* metrics_;
  const AccessControl* access_;
};

class WorkerStreamService final : public polytrain::v1::WorkerService::CallbackService {
 public:
  WorkerStreamService(Coordinator* coordinator, ArtifactStore* artifacts,
                      const AccessControl* access)
      : coordinator_(coordinator), artifacts_(artifacts), access_(access) {}

  grpc::ServerBidiReactor<polytrain::v1::WorkerMessage, polytrain::v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override;
  grpc::ServerReadReactor<polytrain::v1::ArtifactChunk>* UploadArtifact(
      grpc::CallbackServerContext* context, polytrain::v1::ArtifactReceipt* receipt) override;
  grpc::ServerWriteReactor<polytrain::v1::ArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* context,
      const polytrain::v1::DownloadArtifactRequest* request) override;

 private:
  Coordinator* coordinator_;
  ArtifactStore* artifacts_;
  const AccessControl* access_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_GRPC_SERVICES_H_
