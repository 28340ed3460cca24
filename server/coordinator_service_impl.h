// The gRPC face of the Coordinator service (polytrain.v1.Coordinator, callback API): each handler
// authenticates the caller, parses its request, makes one call into ClientApi and answers with
// its Status, recording the call's method, code and duration. Requests arrive as raw bytes
// (request_bytes.h) so that one that does not parse is refused with INVALID_ARGUMENT.
#ifndef POLYTRAIN_SERVER_COORDINATOR_SERVICE_IMPL_H_
#define POLYTRAIN_SERVER_COORDINATOR_SERVICE_IMPL_H_

#include "absl/time/time.h"
#include "api/limits.h"
#include "grpcpp/support/byte_buffer.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "server/access_control.h"
#include "server/caller_quota.h"
#include "server/client_api.h"
#include "server/coordinator_metrics.h"
#include "server/job_watch_stream.h"
#include "server/stream_idle_timer.h"

namespace polytrain {

namespace coordinator_service_internal {
using v1::Coordinator;
// Every method of the service, taking and giving bytes.
using RawService = Coordinator::WithRawCallbackMethod_SubmitJob<
    Coordinator::WithRawCallbackMethod_GetJob<Coordinator::WithRawCallbackMethod_ListJobs<
        Coordinator::WithRawCallbackMethod_CancelJob<Coordinator::WithRawCallbackMethod_GetMetrics<
            Coordinator::WithRawCallbackMethod_WatchJob<
                Coordinator::WithRawCallbackMethod_SubmitSweep<
                    Coordinator::WithRawCallbackMethod_CompareJobs<
                        Coordinator::WithRawCallbackMethod_UploadArtifact<
                            Coordinator::WithRawCallbackMethod_ListArtifacts<
                                Coordinator::WithRawCallbackMethod_DeleteArtifact<
                                    Coordinator::WithRawCallbackMethod_GetSweep<
                                        Coordinator::WithRawCallbackMethod_CancelSweep<
                                            Coordinator::WithRawCallbackMethod_DeleteJob<
                                                Coordinator::WithRawCallbackMethod_ListSweeps<
                                                    Coordinator::WithRawCallbackMethod_DeleteSweep<
                                                        Coordinator::
                                                            WithRawCallbackMethod_DownloadCheckpoint<
                                                                Coordinator::
                                                                    Service>>>>>>>>>>>>>>>>>;
}  // namespace coordinator_service_internal

class CoordinatorServiceImpl final : public coordinator_service_internal::RawService {
 public:
  // `metrics` may be null; `access` decides who the caller is (a call it refuses never reaches
  // the ClientApi). All must outlive the service.
  CoordinatorServiceImpl(ClientApi* api, CoordinatorMetrics* metrics, const AccessControl* access,
                         const WatchLimits& watch_limits = {},
                         absl::Duration transfer_idle = absl::Seconds(kDefaultTransferIdleSeconds))
      : api_(api),
        metrics_(metrics),
        access_(access),
        watch_limits_(watch_limits),
        watch_quota_(watch_limits.per_caller),
        download_quota_(kMaxConcurrentDownloads),
        transfer_idle_(transfer_idle) {}

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SubmitSweep(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CompareJobs(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CancelSweep(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetSweep(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSweeps(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteSweep(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchJob(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* UploadArtifact(grpc::CallbackServerContext* context,
                                                            grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* DownloadCheckpoint(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ListArtifacts(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteArtifact(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  // Authenticates, parses a Request, runs `call(request, caller)` (a StatusOr<Response>),
  // finishes the RPC with its result and records it.
  template <typename Request, typename Call>
  grpc::ServerUnaryReactor* Unary(const char* method, grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request_bytes,
                                  grpc::ByteBuffer* response_bytes, Call call);

  ClientApi* const api_;
  CoordinatorMetrics* const metrics_;
  const AccessControl* const access_;
  const WatchLimits watch_limits_;
  CallerQuota watch_quota_;             // WatchJob streams open per caller
  CallerQuota download_quota_;          // DownloadCheckpoint streams open per caller
  const absl::Duration transfer_idle_;  // an upload with no chunk this long is ended
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_SERVICE_IMPL_H_
