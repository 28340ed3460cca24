// polyctl sweep FILE [--set FIELD=VALUE]... --loss-grid G... [--loss TEXT...] [--seeds N]
//                    [--label K=V]... [--request-id R] [--files DIR | --no-upload] [--dry-run]
//                    [--wait]
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "client/loss_grid.h"
#include "client/spec_setting.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct SweepOptions {
  std::string file, request_id;
  std::vector<std::string> grids, losses, labels, settings;
  int seeds = 1;
  bool wait = false;
  UploadFlags upload;
};

int RunSweep(const SweepOptions& options, CoordinatorClient& client) {
  polytrain::v1::SubmitSweepRequest request;
  if (absl::Status s = ReadJobSpecFile(options.file, request.mutable_base()); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = ApplySettings("--set", options.settings, request.mutable_base()); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = ApplyLabels(options.labels, request.mutable_base()->mutable_labels());
      !s.ok()) {
    return Fail(s);
  }
  for (const std::string& text : options.losses) {
    if (absl::Status s = ParseProto(text, ProtoFormat::kText, "--loss", request.add_losses());
        !s.ok()) {
      return Fail(s);
    }
  }
  for (const std::string& grid : options.grids) {
    absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses =
        ExpandLossGrid(grid, request.base().loss());
    if (!losses.ok()) return Fail(losses.status());
    for (auto& loss : *losses) *request.add_losses() = std::move(loss);
  }
  if (request.losses().empty()) {
    std::cerr << "polyctl: sweep needs --loss-grid or --loss\n" << kRunWithHelp;
    return kExitUsage;
  }
  request.set_seeds(options.seeds);
  request.set_client_request_id(options.request_id);
  // Checked here as the coordinator will check it, before any file is uploaded for it.
  if (absl::Status s = ValidateSubmitSweepRequest(request).status(); !s.ok()) return Fail(s);
  absl::StatusOr<bool> done = PrepareSubmit(client, options.upload, options.file, &request);
  if (!done.ok()) return Fail(done.status());
  if (*done) return kExitOk;  // a dry run: the files were only named, not uploaded
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> response =
      client.CallAgainWhileAway(&polytrain::v1::Coordinator::Stub::SubmitSweep, request);
  if (!response.ok()) return Fail(response.status());
  std::cout << response->sweep_id() << std::endl;
  if (!options.wait) return kExitOk;
  int outcome = kExitOk;
  for (const polytrain::v1::Job& job : response->jobs()) {
    absl::StatusOr<polytrain::v1::Job> final = Follow(client, job.id(), /*quiet=*/true);
    if (!final.ok()) return Fail(final.status());
    // A job that did not succeed says why, as `watch` does (probe CE: only "failed").
    std::cerr << final->id() << " " << final->spec().name() << ": " << JobStateWord(final->state())
              << (final->error().empty() ? "" : " — " + final->error()) << "\n";
    if (OutcomeExit(*final) != kExitOk) outcome = kExitJobFailed;
  }
  return outcome;
}

}  // namespace

Command AddSweepCommand(CLI::App& app) {
  auto options = std::make_shared<SweepOptions>();
  CLI::App* sweep = app.add_subcommand(
      "sweep", absl::StrCat("Submit one job per loss x seed; prints the sweep id. At "
                            "most ",
                            kMaxSweepLosses, " losses (grids and --loss together) and ",
                            kMaxSweepJobs, " jobs (losses x seeds)."));
  sweep->add_option("file", options->file, "base JobSpec file")->required()->check(ExistingPath());
  AddSetFlag(sweep, &options->settings);
  sweep->add_option("--loss-grid", options->grids,
                    "PRESET.FIELD=V1,V2,... (';' multiplies dimensions; each loss keeps the "
                    "base spec's loss options: activation, ignore_index, alpha, label smoothing, "
                    "class weights, reduction), repeatable");
  sweep->add_option("--loss", options->losses,
                    "one more loss, e.g. 'cross_entropy {}' (repeatable)");
  sweep->add_option("--seeds", options->seeds, "runs per loss")
      ->check(IntegerRange(1, 100))
      ->capture_default_str();
  sweep->add_option("--label", options->labels,
                    absl::StrCat("add a label KEY=VALUE to every job (repeatable; at most ",
                                 kMaxSweepBaseLabels, " labels, a key of 1-", kMaxLabelKeyLength,
                                 " characters of [a-z0-9._-/], a value of 0-", kMaxLabelValueLength,
                                 " characters)"));
  sweep
      ->add_option("--request-id", options->request_id,
                   absl::StrCat("makes retries of this sweep safe (without it, a new one for each "
                                "run: polyctl's own resends are safe either way); up to ",
                                kMaxRequestIdLength - kSweepRequestIdSuffixLength,
                                " printable ASCII characters"))
      ->check(NotEmpty());
  AddUploadFlags(sweep, &options->upload);
  sweep->add_flag("--wait", options->wait, "wait until every job has ended");
  return {sweep, [options](CoordinatorClient& client) { return RunSweep(*options, client); }};
}

}  // namespace polytrain
