#include "api/loss_search.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/job_spec.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace polytrain {
namespace {

using google::protobuf::FieldDescriptor;
using polytrain::v1::LossSearch;
using polytrain::v1::LossSpec;
using polytrain::v1::ParameterRange;
using polytrain::v1::SubmitSweepRequest;

// "epsilons[2]" -> ("epsilons", 2); "gamma" -> ("gamma", -1). False when malformed.
// "name" or "name[index]" into its parts; false for anything else, with `why` set where the
// part has an index but not one written as an index is (plain digits, no leading zero: one
// spelling per index, so "[01]" cannot pass as a second range of "[1]").
bool SplitIndex(absl::string_view part, std::string* name, int64_t* index, std::string* why) {
  *index = -1;
  const size_t open = part.find('[');
  if (open == absl::string_view::npos) {
    *name = std::string(part);
    return !name->empty();
  }
  if (part.back() != ']') return false;
  *name = std::string(part.substr(0, open));
  absl::string_view digits = part.substr(open + 1, part.size() - open - 2);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    *why = absl::StrCat("an index is plain digits without a leading zero (e.g. [1]), got ",
                        Quote(absl::StrCat("[", digits, "]")));
    return false;
  }
  if (digits.size() > 5 || !absl::SimpleAtoi(digits, index) || *index > kMaxRangeIndex) {
    *why = absl::StrCat("index must be at most ", kMaxRangeIndex);
    return false;
  }
  return !name->empty();
}

// A uniform double in [0, 1) from 53 bits: the same on every standard library (unlike
// std::uniform_real_distribution).
double Unit(std::mt19937_64& random) { return static_cast<double>(random() >> 11) * 0x1.0p-53; }

double RoundSignificant(double value, int digits) {
  if (value == 0.0 || !std::isfinite(value)) return value;
  const double scale = std::pow(10.0, digits - 1 - std::floor(std::log10(std::fabs(value))));
  const double rounded = std::round(value * scale) / scale;
  return std::isfinite(scale) && std::isfinite(rounded) ? rounded : value;
}

absl::Status ValidateRanges(const LossSearch& search) {
  if (!search.has_loss()) return InvalidField("search.loss", "must be set to draw ranges of it");
  if (search.ranges_size() < 1 || search.ranges_size() > kMaxSearchRanges) {
    return InvalidField("search.ranges", absl::StrCat("must have 1 to ", kMaxSearchRanges,
                                                      " entries, got ", search.ranges_size()));
  }
  // Each range's field first: one that names no number (an index beyond the bound) is the
  // mistake, not the loss it leaves without the list entries the ranges would have drawn.
  for (int i = 0; i < search.ranges_size(); ++i) {
    LossSpec probe = search.loss();
    if (absl::Status s = SetLossNumber(search.ranges(i).field(), 0.0, &probe); !s.ok()) {
      return InvalidField(FieldPath(IndexPath("search.ranges", i), "field"), s.message());
    }
  }
  // As every draw has it: its lists lengthened to the indices the ranges draw ("lengthened with
  // zeros up to j": poly_n {} with a range of epsilons[0] is a poly_n of one term).
  LossSpec lengthened = search.loss();
  for (const ParameterRange& range : search.ranges()) {
    (void)LengthenLossList(range.field(), &lengthened);
  }
  POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(lengthened, "search.loss"));
  std::set<std::string> fields;
  for (int i = 0; i < search.ranges_size(); ++i) {
    const ParameterRange& range = search.ranges(i);
    const std::string path = IndexPath("search.ranges", i);
    LossSpec probe = lengthened;
    if (absl::Status s = SetLossNumber(range.field(), 0.0, &probe); !s.ok()) {
      return InvalidField(FieldPath(path, "field"), s.message());
    }
    if (!fields.insert(range.field()).second) {
      return InvalidField(FieldPath(path, "field"),
                          absl::StrCat(Quote(range.field()), " is drawn by an earlier range"));
    }
    POLYTRAIN_RETURN_IF_ERROR(CheckFinite(FieldPath(path, "min"), range.min()));
    POLYTRAIN_RETURN_IF_ERROR(CheckFinite(FieldPath(path, "max"), range.max()));
    if (range.min() > range.max()) {
      return InvalidField(FieldPath(path, "max"),
                          absl::StrCat("must be >= min (", range.min(), "), got ", range.max()));
    }
    if (range.log_scale() && range.min() <= 0.0) {
      return InvalidField(FieldPath(path, "min"),
                          absl::StrCat("must be > 0 with log_scale, got ", range.min()));
    }
    // The family's bounds are intervals: both ends valid means every draw is.
    for (const auto& [end, value] : {std::pair<const char*, double>{"min", range.min()},
                                     std::pair<const char*, double>{"max", range.max()}}) {
      probe = lengthened;
      (void)SetLossNumber(range.field(), value, &probe);
      if (absl::Status s = ValidateTrainingLoss(probe, "loss"); !s.ok()) {
        return InvalidField(
            FieldPath(path, end),
            absl::StrCat(range.field(), " = ", value, " is not a valid loss: ", s.message()));
      }
    }
  }
  return CheckIntRange("search.trials", search.trials(), 1, kMaxSearchTrials);
}

absl::Status ValidateHalving(const SubmitSweepRequest& request) {
  const LossSearch& search = request.search();
  const polytrain::v1::JobSpec& base = request.base();
  if (!LossSearch::ResourceUnit_IsValid(search.unit())) {
    return InvalidField("search.unit", absl::StrCat("unknown unit ", search.unit()));
  }
  if (search.unit() == LossSearch::RESOURCE_STEPS) {
    if (base.max_steps() <= 0) {
      return InvalidField("base.max_steps", "must be set: RESOURCE_STEPS rungs count to it");
    }
    if (base.epochs() != 0) {
      return InvalidField("base.epochs", "must be 0 with RESOURCE_STEPS (the budget is max_steps)");
    }
  } else {
    if (base.epochs() <= 0) {
      return InvalidField("base.epochs", "must be set: RESOURCE_EPOCHS rungs count to it");
    }
    if (base.max_steps() != 0) {
      return InvalidField("base.max_steps",
                          "must be 0 with RESOURCE_EPOCHS (the budget is epochs); use "
                          "RESOURCE_STEPS to count in steps");
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange("search.min_resource", search.min_resource(), 1, SearchBudget(request)));
  if (search.reduction_factor() != 0) {
    POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("search.reduction_factor", search.reduction_factor(),
                                            kMinReductionFactor, kMaxReductionFactor));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("search.top_k", search.top_k(), 0, kMaxSearchTopK));
  const int configurations = search.ranges_size() > 0 ? search.trials() : request.losses_size();
  if (search.top_k() > configurations) {
    return InvalidField("search.top_k", absl::StrCat("must be at most the ", configurations,
                                                     " configurations, got ", search.top_k()));
  }
  if (search.has_baseline()) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(search.baseline(), "search.baseline"));
  }
  // A finalist stopped before the full budget re-runs with every seed.
  const int64_t jobs = configurations + SearchRerunJobs(request);
  if (jobs > kMaxSweepJobs) {
    return InvalidField("search.top_k",
                        absl::StrCat("trials + top_k x seeds + seeds (the baseline) must be at "
                                     "most ",
                                     kMaxSweepJobs, ", got ", jobs));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t SearchRerunJobs(const SubmitSweepRequest& request) {
  const int seeds = std::max(request.seeds(), 1);
  const int top_k = request.search().top_k();
  return int64_t{top_k} * seeds + (top_k > 0 ? seeds : 0);
}

LossSearch::Strategy SearchStrategy(const SubmitSweepRequest& request) {
  return request.search().strategy() == LossSearch::STRATEGY_UNSPECIFIED
             ? LossSearch::STRATEGY_GRID
             : request.search().strategy();
}

namespace {

// SetLossNumber, or with a null `value` LengthenLossList.
absl::Status SetOrLengthen(absl::string_view field, const double* value, LossSpec* loss) {
  const std::vector<absl::string_view> parts = absl::StrSplit(field, '.');
  if (field.empty() || parts.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(field),
                     " names no number of a loss (e.g. poly1.epsilon, "
                     "poly_n.epsilons[0], focal.gamma, label_smoothing)"));
  }
  google::protobuf::Message* message = loss;
  for (size_t k = 0; k < parts.size(); ++k) {
    std::string name;
    int64_t index = -1;
    std::string bad_index;
    const bool last = k + 1 == parts.size();
    const FieldDescriptor* descriptor = SplitIndex(parts[k], &name, &index, &bad_index)
                                            ? message->GetDescriptor()->FindFieldByName(name)
                                            : nullptr;
    const google::protobuf::Reflection* reflection = message->GetReflection();
    if (!bad_index.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Quote(field), ": ", bad_index));
    }
    if (descriptor == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quote(field), ": ", message->GetDescriptor()->name(), " has no field ", Quote(parts[k])));
    }
    if (!last) {
      if (descriptor->type() != FieldDescriptor::TYPE_MESSAGE || descriptor->is_repeated() ||
          index >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(Quote(field), ": ", name, " is not a loss form"));
      }
      if (descriptor->containing_oneof() != nullptr &&
          !reflection->HasField(*message, descriptor)) {
        return absl::InvalidArgumentError(
            absl::StrCat(Quote(field), " needs the search's loss to be ", name, ", and it is not"));
      }
      message = reflection->MutableMessage(message, descriptor);
      continue;
    }
    // class_weights weigh classes; they are no coefficient of the loss family.
    if (descriptor->cpp_type() != FieldDescriptor::CPPTYPE_DOUBLE ||
        (k == 0 && descriptor->is_repeated())) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(field), ": ", name, " is not a number a search can draw"));
    }
    if (descriptor->is_repeated() != (index >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(field), descriptor->is_repeated() ? ": a list needs an index, e.g. [0]"
                                                               : ": only a list takes an index"));
    }
    if (index < 0) {
      if (value != nullptr) reflection->SetDouble(message, descriptor, *value);
    } else {
      while (reflection->FieldSize(*message, descriptor) <= index) {
        reflection->AddDouble(message, descriptor, 0.0);
      }
      if (value != nullptr) {
        reflection->SetRepeatedDouble(message, descriptor, static_cast<int>(index), *value);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SetLossNumber(absl::string_view field, double value, LossSpec* loss) {
  return SetOrLengthen(field, &value, loss);
}

absl::Status LengthenLossList(absl::string_view field, LossSpec* loss) {
  return SetOrLengthen(field, nullptr, loss);
}

absl::Status ValidateSearchStrategy(const LossSearch& search) {
  if (!LossSearch::Strategy_IsValid(search.strategy())) {
    return InvalidField("search.strategy", absl::StrCat("unknown strategy ", search.strategy()));
  }
  return absl::OkStatus();
}

absl::Status ValidateLossSearch(const SubmitSweepRequest& request) {
  const LossSearch& search = request.search();
  POLYTRAIN_RETURN_IF_ERROR(ValidateSearchStrategy(search));
  POLYTRAIN_RETURN_IF_ERROR(ValidateSearchMetric(request));
  const LossSearch::Strategy strategy = SearchStrategy(request);
  // Fields only successive halving reads, and those a drawing search (random, or halving with
  // ranges) reads: the first one set where the strategy does not read it is named.
  const std::vector<std::pair<const char*, bool>> halving_fields = {
      {"unit", search.unit() != LossSearch::RESOURCE_UNSPECIFIED},
      {"min_resource", search.min_resource() != 0},
      {"reduction_factor", search.reduction_factor() != 0},
      {"top_k", search.top_k() != 0},
      {"baseline", search.has_baseline()}};
  if (strategy == LossSearch::STRATEGY_GRID) {
    const std::vector<std::pair<const char*, bool>> drawing_fields = {
        {"loss", search.has_loss()},
        {"ranges", search.ranges_size() > 0},
        {"trials", search.trials() != 0},
        {"draw_seed", search.draw_seed() != 0}};
    for (const auto& [name, set] : drawing_fields) {
      if (set) {
        return InvalidField(absl::StrCat("search.", name),
                            "needs search.strategy RANDOM or SUCCESSIVE_HALVING (a grid runs "
                            "`losses` as given)");
      }
    }
    for (const auto& [name, set] : halving_fields) {
      if (set) {
        return InvalidField(absl::StrCat("search.", name),
                            "needs search.strategy SUCCESSIVE_HALVING (a grid runs `losses` as "
                            "given)");
      }
    }
    return absl::OkStatus();
  }
  if (strategy == LossSearch::STRATEGY_RANDOM) {
    for (const auto& [name, set] : halving_fields) {
      if (set) {
        return InvalidField(absl::StrCat("search.", name),
                            "needs search.strategy SUCCESSIVE_HALVING (a random search trains "
                            "every trial to the end)");
      }
    }
    if (search.ranges_size() == 0) {
      return InvalidField("search.ranges",
                          "a random search draws its losses from ranges of search.loss: set at "
                          "least one (a grid runs `losses` as given)");
    }
  } else if (search.top_k() == 0 && request.seeds() > 1) {
    return InvalidField("seeds",
                        absl::StrCat("successive halving reads it with search.top_k 1 or more "
                                     "only (the seeds of the final re-runs; top_k 0 re-runs "
                                     "nothing), got ",
                                     request.seeds()));
  } else if (search.top_k() == 0 && search.has_baseline()) {
    // Probe CJ: taken without a word, and never run.
    return InvalidField("search.baseline",
                        "successive halving runs it with search.top_k 1 or more only (beside the "
                        "final re-runs; top_k 0 re-runs nothing)");
  }
  const bool draws = strategy == LossSearch::STRATEGY_RANDOM || search.ranges_size() > 0;
  if (draws) {
    if (request.losses_size() > 0) {
      return InvalidField("losses", "must be empty when the search draws its losses (ranges)");
    }
    POLYTRAIN_RETURN_IF_ERROR(ValidateRanges(search));
  } else if (search.has_loss()) {
    return InvalidField("search.loss",
                        "successive halving draws from search.loss only with ranges: set "
                        "search.ranges, or give the configurations as `losses`");
  } else if (search.trials() != 0) {
    return InvalidField("search.trials",
                        "successive halving over `losses` takes them as its trials: set ranges "
                        "to draw trials instead");
  }
  if (strategy == LossSearch::STRATEGY_RANDOM) {
    const int seeds = std::max(request.seeds(), 1);
    if (int64_t{search.trials()} * seeds > kMaxSweepJobs) {
      return InvalidField("search.trials",
                          absl::StrCat("trials x seeds must be at most ", kMaxSweepJobs, ", got ",
                                       int64_t{search.trials()} * seeds));
    }
    return absl::OkStatus();
  }
  return ValidateHalving(request);
}

absl::StatusOr<std::vector<LossSpec>> DrawLosses(const LossSearch& search) {
  // A draw that rounds to one an earlier trial has is drawn again: two trials of one loss and
  // seed would be the same run twice, counted as two.
  constexpr int kDrawsPerTrial = 1000;
  std::mt19937_64 random(search.draw_seed());
  std::vector<LossSpec> losses;
  losses.reserve(search.trials());
  std::set<std::vector<double>> drawn;
  for (int t = 0; t < search.trials(); ++t) {
    std::vector<double> values;
    for (int attempt = 0; attempt < kDrawsPerTrial; ++attempt) {
      values.clear();
      for (const ParameterRange& range : search.ranges()) {
        const double u = Unit(random);
        const double value = range.log_scale()
                                 ? std::exp(std::log(range.min()) +
                                            u * (std::log(range.max()) - std::log(range.min())))
                                 : range.min() + u * (range.max() - range.min());
        // + 0.0: -0 and 0 are one value.
        values.push_back(
            std::clamp(RoundSignificant(value, kDrawnSignificantDigits), range.min(), range.max()) +
            0.0);
      }
      if (drawn.insert(values).second) break;
      if (attempt + 1 == kDrawsPerTrial) {
        // Near the ranges' capacity the last ones are rarely drawn: say what happened.
        return InvalidField(
            "search.trials",
            absl::StrCat("trial ", t, " drew only configurations earlier trials have, ",
                         kDrawsPerTrial, " times over: at ", kDrawnSignificantDigits,
                         " significant digits the ranges hold no more, or barely more, than ", t,
                         " different ones; widen search.ranges or ask for fewer trials"));
      }
    }
    LossSpec loss = search.loss();
    for (int r = 0; r < search.ranges_size(); ++r) {
      (void)SetLossNumber(search.ranges(r).field(), values[r], &loss);
    }
    losses.push_back(std::move(loss));
  }
  return losses;
}

int64_t SearchBudget(const SubmitSweepRequest& request) {
  return request.search().unit() == LossSearch::RESOURCE_STEPS ? request.base().max_steps()
                                                               : request.base().epochs();
}

std::vector<int64_t> RungResources(const SubmitSweepRequest& request) {
  const int64_t budget = SearchBudget(request);
  const int64_t eta = ReductionFactor(request.search());
  std::vector<int64_t> rungs;
  for (int64_t r = std::max<int64_t>(request.search().min_resource(), 1); r < budget; r *= eta) {
    rungs.push_back(r);
  }
  rungs.push_back(budget);
  return rungs;
}

int ReductionFactor(const LossSearch& search) {
  return search.reduction_factor() == 0 ? kDefaultReductionFactor : search.reduction_factor();
}

}  // namespace polytrain
