// polyctl submit (FILE | --from JOB_ID) [--set FIELD=VALUE]... [--loss TEXT] [--seed N]
//                     [--epochs N] [--name S] [--label K=V]...
//                     [--request-id R] [--files DIR | --no-upload] [--dry-run]
//                     [--watch]
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/spec_setting.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct SubmitOptions {
  std::string file, from_job, loss, name, request_id;
  int64_t epochs = -1, time_limit = -1;
  std::optional<uint64_t> seed;
  std::vector<std::string> labels, settings;
  bool watch = false;
  UploadFlags upload;
};

// A refusal of the GetJob that --from made, naming --from rather than the request's field.
absl::Status NamedAsFromFlag(const absl::Status& status) {
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, "id: ")) return status;
  return absl::Status(status.code(), absl::StrCat("--from: ", message));
}

// The spec job `job_id` was submitted with (GetJob). A sweep's job leaves behind what the sweep
// gave it: its labels "sweep" and "loss" (the coordinator refuses "sweep" on a job of no sweep)
// and, for a search's trial, the priority the search raised it to (back to the sweep's base's).
absl::Status ReadJobSpecOfJob(CoordinatorClient& client, const std::string& job_id,
                              polytrain::v1::JobSpec* spec) {
  polytrain::v1::GetJobRequest get;
  get.set_id(job_id);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::GetJob, get);
  if (!job.ok()) return NamedAsFromFlag(job.status());
  *spec = job->spec();
  auto sweep_label = spec->labels().find(kSweepLabel);
  if (sweep_label == spec->labels().end()) return absl::OkStatus();
  const std::string sweep_id = sweep_label->second;
  std::vector<std::string> dropped;
  for (const char* reserved : {kSweepLabel, kLossLabel}) {
    auto label = spec->mutable_labels()->find(reserved);
    if (label == spec->mutable_labels()->end()) continue;
    dropped.push_back(absl::StrCat(label->first, "=", label->second));
    spec->mutable_labels()->erase(label);
  }
  std::string note = absl::StrCat(job_id, " is one of sweep ", sweep_id,
                                  "'s jobs; the new job is not, so its labels ",
                                  absl::StrJoin(dropped, ", "), " are not carried over");
  polytrain::v1::GetSweepRequest get_sweep;
  get_sweep.set_id(sweep_id);
  absl::StatusOr<polytrain::v1::Sweep> sweep =
      client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, get_sweep);
  const int base_priority = sweep.ok() ? sweep->request().base().priority() : spec->priority();
  if (base_priority != spec->priority()) {
    absl::StrAppend(&note, ", and its priority is the sweep's, ", base_priority,
                    " (its search had raised the trial's to ", spec->priority(), ")");
    spec->set_priority(base_priority);
  }
  std::cerr << "polyctl: note: " << note << "\n";
  return absl::OkStatus();
}

int RunSubmit(const SubmitOptions& options, CoordinatorClient& client) {
  if (options.file.empty() && options.from_job.empty()) {
    std::cerr << "polyctl: submit needs a JobSpec file or --from JOB_ID\n" << kRunWithHelp;
    return kExitUsage;
  }
  polytrain::v1::SubmitJobRequest request;
  polytrain::v1::JobSpec& spec = *request.mutable_spec();
  if (absl::Status s = options.from_job.empty() ? ReadJobSpecFile(options.file, &spec)
                                                : ReadJobSpecOfJob(client, options.from_job, &spec);
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = ApplySettings("--set", options.settings, &spec); !s.ok()) return Fail(s);
  if (!options.loss.empty()) {
    if (absl::Status s =
            ParseProto(options.loss, ProtoFormat::kText, "--loss", spec.mutable_loss());
        !s.ok()) {
      return Fail(s);
    }
  }
  if (options.seed.has_value()) spec.set_seed(*options.seed);
  if (options.epochs >= 0) spec.set_epochs(static_cast<int32_t>(options.epochs));
  if (options.time_limit >= 0)
    spec.set_time_limit_seconds(static_cast<int32_t>(options.time_limit));
  if (!options.name.empty()) spec.set_name(options.name);
  if (absl::Status s = ApplyLabels(options.labels, spec.mutable_labels()); !s.ok()) return Fail(s);
  request.set_client_request_id(options.request_id);
  // Checked here as the coordinator will check it, before any file is uploaded for it.
  if (absl::Status s = ValidateSubmitJobRequest(request); !s.ok()) return Fail(s);
  // The spec of an earlier job names its files as that job read them (uploaded ones by their
  // sha256, the rest as the worker's paths): nothing here is uploaded unless --files says where.
  UploadFlags upload = options.upload;
  if (!options.from_job.empty() && upload.files_dir.empty()) upload.no_upload = true;
  absl::StatusOr<bool> done = PrepareSubmit(client, upload, options.file, &request);
  if (!done.ok()) return Fail(done.status());
  if (*done) return kExitOk;  // a dry run: the files were only named, not uploaded
  absl::StatusOr<polytrain::v1::Job> job =
      client.CallAgainWhileAway(&polytrain::v1::Coordinator::Stub::SubmitJob, request);
  if (!job.ok()) return Fail(job.status());
  std::cout << job->id() << std::endl;
  if (!options.watch) return kExitOk;
  absl::StatusOr<polytrain::v1::Job> final = Follow(client, job->id(), /*quiet=*/false);
  return final.ok() ? OutcomeExit(*final) : Fail(final.status());
}

}  // namespace

Command AddSubmitCommand(CLI::App& app) {
  auto options = std::make_shared<SubmitOptions>();
  CLI::App* submit = app.add_subcommand(
      "submit",
      "Submit a job (JobSpec in .txtpb, .json or .yaml, or an earlier job's spec with --from); "
      "prints its id.");
  CLI::Option* file =
      submit->add_option("file", options->file, "JobSpec file")->check(ExistingPath());
  submit
      ->add_option("--from", options->from_job,
                   "instead of a file: the spec an earlier job (yours) was submitted with, e.g. "
                   "to run it again with a change: polyctl submit --from JOB_ID --set "
                   "optimizer.learning_rate=0.05 (a sweep's job leaves its 'sweep' and 'loss' "
                   "labels behind, and a search trial the priority its search raised; its "
                   "files are named as that job read them, and local ones are uploaded only "
                   "with --files DIR)")
      ->check(NotEmpty())
      ->excludes(file);
  AddSetFlag(submit, &options->settings);
  submit->add_option("--loss", options->loss, "replace the loss, e.g. 'poly1 { epsilon: 2 }'")
      ->check(NotEmpty());
  submit
      ->add_option_function<uint64_t>(
          "--seed", [options](const uint64_t& seed) { options->seed = seed; }, "replace the seed")
      ->check(WholeNumber());
  submit->add_option("--epochs", options->epochs, "replace the epochs")
      ->check(IntegerRange(0, 10000));
  submit
      ->add_option("--time-limit", options->time_limit,
                   "replace spec.time_limit_seconds: each attempt's limit in seconds (0: none)")
      ->check(IntegerRange(int64_t{0}, int64_t{kMaxTimeLimitSeconds}));
  submit->add_option("--name", options->name, "replace the name")->check(NotEmpty());
  submit->add_option("--label", options->labels,
                     absl::StrCat("add a label KEY=VALUE (repeatable; at most ", kMaxLabels,
                                  " labels, a key of 1-", kMaxLabelKeyLength,
                                  " characters of [a-z0-9._-/], a value of 0-",
                                  kMaxLabelValueLength, " characters)"));
  submit
      ->add_option(
          "--request-id", options->request_id,
          absl::StrCat("makes retries of this submit safe (without it, a new one for each run: "
                       "polyctl's own resends are safe either way); up to ",
                       kMaxRequestIdLength, " printable ASCII characters"))
      ->check(NotEmpty());
  AddUploadFlags(submit, &options->upload);
  submit->add_flag("--watch", options->watch, "follow the job until it ends");
  return {submit, [options](CoordinatorClient& client) { return RunSubmit(*options, client); }};
}

}  // namespace polytrain
