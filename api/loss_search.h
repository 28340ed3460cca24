// A sweep's search (coordinator.proto's LossSearch): its checks, the configurations it draws
// and the rungs of successive halving. Pure functions of the request, torch-free: the
// coordinator, polyctl and tests agree on what a request means.
#ifndef POLYTRAIN_API_LOSS_SEARCH_H_
#define POLYTRAIN_API_LOSS_SEARCH_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/search_metric.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

inline constexpr int kMaxSearchRanges = 16;
inline constexpr int kMaxSearchTrials = 1000;
inline constexpr int kMaxSearchTopK = 100;
inline constexpr int kDefaultReductionFactor = 3;
inline constexpr int kMinReductionFactor = 2;
inline constexpr int kMaxReductionFactor = 16;
// Drawn values keep this many significant digits, so that a configuration has a short name.
inline constexpr int kDrawnSignificantDigits = 4;
// The highest list index a range may name (a loss has at most 10000 polynomial terms).
inline constexpr int kMaxRangeIndex = 9999;

// The strategy with UNSPECIFIED read as GRID.
polytrain::v1::LossSearch::Strategy SearchStrategy(
    const polytrain::v1::SubmitSweepRequest& request);

// Sets the number at `field` (a ParameterRange.field path such as "poly1.epsilon" or
// "poly_n.epsilons[2]") of `loss` to `value`, lengthening a list with zeros up to the index.
// INVALID_ARGUMENT (without a field prefix: the caller names the range) for a path that names no
// number of LossSpec, or a form other than the loss's.
absl::Status SetLossNumber(absl::string_view field, double value, polytrain::v1::LossSpec* loss);

// The list `field` indexes in `loss`, lengthened with zeros to hold its index, as SetLossNumber
// would, without setting the number; a field without an index leaves `loss` as it is. The shape
// every drawn loss has, for checking the search's loss before any draw.
absl::Status LengthenLossList(absl::string_view field, polytrain::v1::LossSpec* loss);

// INVALID_ARGUMENT naming search.strategy when it is none of the enum's values: checked before
// anything that depends on the strategy (how many `losses` it needs).
absl::Status ValidateSearchStrategy(const polytrain::v1::LossSearch& search);

// Checks `request.search` (under the path "search"), given a base already checked. A grid's
// search is the strategy alone.
absl::Status ValidateLossSearch(const polytrain::v1::SubmitSweepRequest& request);

// The configurations of a checked RANDOM search, or of a SUCCESSIVE_HALVING one with ranges:
// `trials` copies of search.loss, each range's field drawn from mt19937_64(draw_seed) (range by
// range, trial by trial) and rounded to kDrawnSignificantDigits within [min, max]; a trial whose
// draw equals an earlier trial's is drawn again. INVALID_ARGUMENT on search.trials when the
// ranges hold too few different configurations for the trials (min == max, say).
absl::StatusOr<std::vector<polytrain::v1::LossSpec>> DrawLosses(
    const polytrain::v1::LossSearch& search);

// Successive halving's full budget: base.epochs, or base.max_steps with RESOURCE_STEPS.
int64_t SearchBudget(const polytrain::v1::SubmitSweepRequest& request);
// The most jobs a search queues once its trials have ended: top_k x seeds re-runs of its best
// losses and seeds runs of the baseline (0 without top_k).
int64_t SearchRerunJobs(const polytrain::v1::SubmitSweepRequest& request);
// Its rungs' resources: min_resource * eta^k while below the budget, then the budget.
std::vector<int64_t> RungResources(const polytrain::v1::SubmitSweepRequest& request);
// The reduction factor with 0 read as kDefaultReductionFactor.
int ReductionFactor(const polytrain::v1::LossSearch& search);
}  // namespace polytrain

#endif  // POLYTRAIN_API_LOSS_SEARCH_H_
