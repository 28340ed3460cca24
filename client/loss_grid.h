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

// Each loss takes `options_of`'s options (every field but the form: activation, ignore_index,
// alpha, label smoothing, class weights, reduction), so a grid over a sigmoid base stays sigmoid.
// INVALID_ARGUMENT naming the grid for a malformed value or a loss that fails validation.
absl::StatusOr<std::vector<polytrain::v1::LossSpec>> ExpandLossGrid(
    const std::string& grid, const polytrain::v1::LossSpec& options_of = {});

// The loss forms a LossSpec takes ("cross_entropy, poly1, ..."), for errors.
std::string LossFormNames();

// `form`'s form (poly1 {...}, focal {...}, ...) with the other fields of `options_of`.
polytrain::v1::LossSpec WithOptionsOf(const polytrain::v1::LossSpec& options_of,
                                      const polytrain::v1::LossSpec& form);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_LOSS_GRID_H_
