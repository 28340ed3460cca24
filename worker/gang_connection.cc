#include "worker/gang_connection.h"

#include "worker/c10d_connection.h"
#include "worker/child_connection.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<GangConnection>> OpenGangConnection(const GangOptions& options) {
  // NCCL sums the GPU's memory where it lies: a CUDA gang stays in this process.
  if (options.process_binary.empty() || options.cuda) return OpenC10dConnection(options);
  return OpenChildConnection(options);
}

}  // namespace polytrain
