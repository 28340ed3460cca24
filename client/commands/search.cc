// polyctl search FILE [--set FIELD=VALUE]... (--range FIELD=MIN:MAX[:log]... [--loss TEXT]
//                     [--trials N] | --loss-grid G...)
//                     [--strategy successive_halving|random] [--min-resource R] [--eta N]
//                     [--unit epochs|steps] [--top-k K] [--seeds N] [--metric M]
//                     [--baseline TEXT] [--draw-seed S] [--label K=V]... [--request-id R]
//                     [--files DIR | --no-upload] [--dry-run] [--watch]
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/client_requests.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/loss_grid.h"
#include "client/spec_setting.h"
#include "client/sweep_output.h"
#include "common/proto_file.h"
#include "common/status_macros.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers
using polytrain::v1::LossSearch;

// For each range "form.list[i]" of search.loss's form, list gets zeros up to index i (an index
// out of bounds is left for the coordinator to refuse, naming the range).
void ExtendListsTheRangesIndex(LossSearch& search) {
  google::protobuf::Message* loss = search.mutable_loss();
  const google::protobuf::Reflection* reflection = loss->GetReflection();
  for (const auto& range : search.ranges()) {
    const std::string& field = range.field();
    const size_t dot = field.find('.'), open = field.find('['), close = field.find(']');
    if (dot == std::string::npos || open == std::string::npos || close != field.size() - 1 ||
        open < dot) {
      continue;
    }
    const google::protobuf::FieldDescriptor* form =
        loss->GetDescriptor()->FindFieldByName(field.substr(0, dot));
    int index = 0;
    if (form == nullptr || form->message_type() == nullptr ||
        !absl::SimpleAtoi(field.substr(open + 1, close - open - 1), &index) || index < 0 ||
        index > kMaxRangeIndex) {
      continue;
    }
    google::protobuf::Message* sub = reflection->MutableMessage(loss, form);
    const google::protobuf::FieldDescriptor* list =
        sub->GetDescriptor()->FindFieldByName(field.substr(dot + 1, open - dot - 1));
    if (list == nullptr || !list->is_repeated() ||
        list->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE) {
      continue;
    }
    while (sub->GetReflection()->FieldSize(*sub, list) <= index) {
      sub->GetReflection()->AddDouble(sub, list, 0.0);
    }
  }
}

struct SearchOptions {
  std::string file, request_id, strategy = "successive_halving", unit = "epochs", metric;
  std::string loss, baseline;
  std::vector<std::string> ranges, grids, labels, settings;
  int trials = 16, eta = 3, top_k = 0, seeds = 1;
  int64_t min_resource = 1;
  uint64_t draw_seed = 0;
  double poll_seconds = 1.0;
  bool watch = false;
  UploadFlags upload;
};

// "poly1.epsilon=-1:10" or "focal.gamma=0.1:5:log".
absl::StatusOr<polytrain::v1::ParameterRange> ParseRange(const std::string& text) {
  const std::vector<std::string> sides = absl::StrSplit(text, absl::MaxSplits('=', 1));
  const std::vector<std::string> bounds =
      sides.size() == 2 ? absl::StrSplit(sides[1], ':') : std::vector<std::string>();
  polytrain::v1::ParameterRange range;
  double min = 0, max = 0;
  if (sides.size() != 2 || sides[0].empty() || (bounds.size() != 2 && bounds.size() != 3) ||
      !absl::SimpleAtod(bounds[0], &min) || !absl::SimpleAtod(bounds[1], &max) ||
      (bounds.size() == 3 && bounds[2] != "log")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--range ", text,
                     ": expected FIELD=MIN:MAX or FIELD=MIN:MAX:log, e.g. "
                     "poly1.epsilon=-1:10"));
  }
  range.set_field(sides[0]);
  range.set_min(min);
  range.set_max(max);
  range.set_log_scale(bounds.size() == 3);
  return range;
}

absl::StatusOr<polytrain::v1::SubmitSweepRequest> BuildRequest(const SearchOptions& options) {
  polytrain::v1::SubmitSweepRequest request;
  POLYTRAIN_RETURN_IF_ERROR(ReadJobSpecFile(options.file, request.mutable_base()));
  POLYTRAIN_RETURN_IF_ERROR(ApplySettings("--set", options.settings, request.mutable_base()));
  POLYTRAIN_RETURN_IF_ERROR(ApplyLabels(options.labels, request.mutable_base()->mutable_labels()));
  LossSearch& search = *request.mutable_search();
  search.set_strategy(options.strategy == "random" ? LossSearch::STRATEGY_RANDOM
                                                   : LossSearch::STRATEGY_SUCCESSIVE_HALVING);
  for (const std::string& text : options.ranges) {
    absl::StatusOr<polytrain::v1::ParameterRange> range = ParseRange(text);
    if (!range.ok()) return range.status();
    *search.add_ranges() = *std::move(range);
  }
  if (!options.ranges.empty()) {
    // The drawn loss: --loss, else the form the first range names ("poly1.epsilon": poly1 {}).
    std::string loss = options.loss;
    const std::string& field = search.ranges(0).field();
    if (loss.empty() && field.find('.') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--loss: needed with --range ", field,
                       " (it names no loss form), e.g. --loss 'poly1 {}'"));
    }
    if (loss.empty()) {
      const std::string form = field.substr(0, field.find('.'));
      const google::protobuf::FieldDescriptor* named =
          polytrain::v1::LossSpec::descriptor()->FindFieldByName(form);
      if (named == nullptr || named->containing_oneof() == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--range ", field, ": '", form, "' is not a loss form (one of: ", LossFormNames(),
            "); or give the form with --loss. A search varies the loss only: for other fields, "
            "search once per value (--set FIELD=V) and compare the searches (polyctl compare "
            "ID...)"));
      }
      loss = absl::StrCat(form, " {}");
    }
    POLYTRAIN_RETURN_IF_ERROR(
        ParseProto(loss, ProtoFormat::kText, "--loss", search.mutable_loss()));
    // A form made from the ranges ("poly_n.epsilons[1]": poly_n {}) has each list the ranges
    // index long enough, of zeros: `poly_n {}` alone is no loss (it needs an epsilon). It keeps
    // the base spec's loss options (a sigmoid base's search draws sigmoid losses).
    if (options.loss.empty()) {
      *search.mutable_loss() = WithOptionsOf(request.base().loss(), search.loss());
      ExtendListsTheRangesIndex(search);
    }
    search.set_trials(options.trials);
    search.set_draw_seed(options.draw_seed);
  }
  for (const std::string& grid : options.grids) {
    absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses =
        ExpandLossGrid(grid, request.base().loss());
    if (!losses.ok()) return losses.status();
    for (auto& loss : *losses) *request.add_losses() = std::move(loss);
  }
  if (search.strategy() == LossSearch::STRATEGY_SUCCESSIVE_HALVING) {
    search.set_unit(options.unit == "steps" ? LossSearch::RESOURCE_STEPS
                                            : LossSearch::RESOURCE_EPOCHS);
    search.set_min_resource(options.min_resource);
    search.set_reduction_factor(options.eta);
    search.set_top_k(options.top_k);
  }
  search.set_metric(options.metric);
  if (!options.baseline.empty()) {
    POLYTRAIN_RETURN_IF_ERROR(
        ParseProto(options.baseline, ProtoFormat::kText, "--baseline", search.mutable_baseline()));
  }
  request.set_seeds(options.seeds);
  request.set_client_request_id(options.request_id);
  return request;
}

// The options only successive halving reads.
constexpr const char* kHalvingOptions[] = {"--unit", "--min-resource", "--eta", "--top-k",
                                           "--baseline"};

int RunSearch(const SearchOptions& options, const CLI::App& command, CoordinatorClient& client) {
  if (options.ranges.empty() && options.grids.empty()) {
    std::cerr << "polyctl: search needs --range FIELD=MIN:MAX (draws) or --loss-grid G (given "
                 "losses)\n"
              << kRunWithHelp;
    return kExitUsage;
  }
  if (options.strategy == "random") {
    for (const char* name : kHalvingOptions) {
      if (command.count(name) > 0) {
        std::cerr << "polyctl: " << name
                  << " is read by --strategy successive_halving only (a random search trains "
                     "every trial to the end, and ranks them with no baseline or re-runs)\n"
                  << kRunWithHelp;
        return kExitUsage;
      }
    }
  } else if (options.top_k == 0 && command.count("--seeds") > 0) {
    std::cerr << "polyctl: --seeds is read with --top-k 1 or more only (the seeds of the final "
                 "re-runs; --top-k 0 re-runs nothing)\n"
              << kRunWithHelp;
    return kExitUsage;
  } else if (options.top_k == 0 && command.count("--baseline") > 0) {
    std::cerr << "polyctl: --baseline runs with --top-k 1 or more only (beside the final "
                 "re-runs; --top-k 0 re-runs nothing)\n"
              << kRunWithHelp;
    return kExitUsage;
  }
  absl::StatusOr<polytrain::v1::SubmitSweepRequest> request = BuildRequest(options);
  if (!request.ok()) return Fail(request.status());
  // Checked here as the coordinator will check it, before any file is uploaded for it.
  if (absl::Status s = ValidateSubmitSweepRequest(*request).status(); !s.ok()) return Fail(s);
  absl::StatusOr<bool> done = PrepareSubmit(client, options.upload, options.file, &*request);
  if (!done.ok()) return Fail(done.status());
  if (*done) return kExitOk;  // a dry run: the files were only named, not uploaded
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> response =
      client.CallAgainWhileAway(&polytrain::v1::Coordinator::Stub::SubmitSweep, *request);
  if (!response.ok()) return Fail(response.status());
  std::cout << response->sweep_id() << std::endl;
  if (!options.watch) return kExitOk;
  return WatchSweep(client, response->sweep_id(), options.poll_seconds);
}

}  // namespace

Command AddSearchCommand(CLI::App& app) {
  auto options = std::make_shared<SearchOptions>();
  CLI::App* search = app.add_subcommand(
      "search",
      "Search the loss space: successive halving (ASHA; losers stop early, the best go on from "
      "their checkpoints) or random search; prints the sweep id. Example: polyctl search "
      "examples/jobs/fashion_mnist_search_base.txtpb --range poly1.epsilon=-1:10 --trials 12 "
      "--top-k 1 --seeds 3 --watch");
  search->add_option("file", options->file, "base JobSpec file (its epochs are the full budget)")
      ->required()
      ->check(ExistingPath());
  search->add_option("--strategy", options->strategy, "successive_halving or random")
      ->transform(CLI::IsMember({"successive_halving", "random"}, CLI::ignore_case))
      ->capture_default_str();
  CLI::Option* grid = search->add_option(
      "--loss-grid", options->grids,
      "successive halving over a grid instead of ranges: PRESET.FIELD=V1,V2,... (each loss "
      "keeps the base spec's loss options, as sweep's; repeatable)");
  search
      ->add_option("--range", options->ranges,
                   "draw FIELD uniformly in [MIN, MAX] (':log': log-uniformly), e.g. "
                   "poly1.epsilon=-1:10 (repeatable)")
      ->excludes(grid);
  search
      ->add_option("--loss", options->loss,
                   "the loss the ranges draw from, as written (default: the form of the first "
                   "range's field, e.g. 'poly1 {}', with the base spec's loss options)")
      ->excludes(grid)
      ->check(NotEmpty());
  search->add_option("--trials", options->trials, "configurations drawn")
      ->check(IntegerRange(1, 1000))
      ->excludes(grid)
      ->capture_default_str();
  search->add_option("--draw-seed", options->draw_seed, "seed of the draws")
      ->check(WholeNumber())
      ->excludes(grid)
      ->capture_default_str();
  search->add_option("--unit", options->unit, "rungs in epochs or steps")
      ->transform(CLI::IsMember({"epochs", "steps"}, CLI::ignore_case))
      ->capture_default_str();
  search
      ->add_option("--min-resource", options->min_resource,
                   "the first rung, in epochs or steps (--unit); at most the full budget, the "
                   "base's epochs or max_steps")
      ->check(WholeNumber(1, std::numeric_limits<int64_t>::max()))
      ->capture_default_str();
  search->add_option("--eta", options->eta, "reduction factor: the top 1/eta go up a rung")
      ->check(IntegerRange(2, 16))
      ->capture_default_str();
  search
      ->add_option("--top-k", options->top_k,
                   "at the end, re-run the best K with --seeds seeds, and the baseline")
      ->check(IntegerRange(0, kMaxSearchTopK))
      ->capture_default_str();
  search
      ->add_option("--seeds", options->seeds,
                   "seeds of the final re-runs (random search: runs per configuration)")
      ->check(IntegerRange(1, 100))
      ->capture_default_str();
  search
      ->add_option("--metric", options->metric,
                   "metric to rank by (default eval_accuracy; eval_nll and eval_ece: lower is "
                   "better; multi-label data also eval_exact_match, eval_f1; not eval_loss, each "
                   "trial's own loss on its own scale)")
      ->check(NotEmpty());
  search
      ->add_option("--baseline", options->baseline,
                   "loss the winner is tested against (default: cross-entropy)")
      ->check(NotEmpty());
  AddSetFlag(search, &options->settings);
  search->add_option("--label", options->labels,
                     absl::StrCat("add a label KEY=VALUE to every job (repeatable; at most ",
                                  kMaxSweepBaseLabels, " labels, a key of 1-", kMaxLabelKeyLength,
                                  " characters of [a-z0-9._-/], a value of 0-",
                                  kMaxLabelValueLength, " characters)"));
  search
      ->add_option("--request-id", options->request_id,
                   absl::StrCat("makes retries of this search safe (without it, a new one for each "
                                "run: polyctl's own resends are safe either way); up to ",
                                kMaxRequestIdLength - kSweepRequestIdSuffixLength,
                                " printable ASCII characters"))
      ->check(NotEmpty());
  search->add_option("--poll-seconds", options->poll_seconds, "how often --watch asks")
      ->check(FiniteRange(0.05, 60.0))
      ->capture_default_str();
  AddUploadFlags(search, &options->upload);
  search->add_flag("--watch", options->watch,
                   "show the rung table live until the search is done, then its ranking");
  return {search, [options, search](CoordinatorClient& client) {
            return RunSearch(*options, *search, client);
          }};
}

}  // namespace polytrain
