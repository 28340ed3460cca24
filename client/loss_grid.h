// Expands `--loss-grid` values into LossSpecs: "poly1.epsilon=-1,0,1,2" is four Poly-1 losses;
// dimensions joined by ';' multiply: "poly_focal.gamma=1,2;poly_focal.epsilons=0,1" is four.
#ifndef POLYTRAIN_CLIENT_LOSS_GRID_H_
#define POLYTRAIN_CLIENT_LOSS_GRID_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/loss.pb.h"

namespace polytrain {

// At most this many losses from one grid.
inline constexpr int kMaxGridLosses = 100;

// INVALID_ARGUMENT naming the grid for a malformed value or a loss that fails validation.
absl::StatusOr<std::vector<polytrain::v1::LossSpec>> ExpandLossGrid(const std::string& grid);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_LOSS_GRID_H_
