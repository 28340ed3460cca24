#include "worker/coordinator_away.h"

#include "absl/strings/match.h"
#include "api/worker_messages.h"

namespace polytrain {

bool IsCoordinatorAway(const absl::Status& status, bool cancelled_here) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         (absl::IsCancelled(status) && !cancelled_here) ||
         (absl::IsPermissionDenied(status) &&
          absl::StartsWith(status.message(), kUnknownSessionKeyRefusal));
}

}  // namespace polytrain
