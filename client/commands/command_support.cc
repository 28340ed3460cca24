#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/artifacts.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/text_table.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "common/status_macros.h"

namespace polytrain::command_support {

int Fail(const absl::Status& status) { return ExitWithError("polyctl", status); }

absl::Status ApplyLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>* into) {
  std::set<std::string> given;
  for (const std::string& label : labels) {
    const std::vector<std::string> kv = absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: expected KEY=VALUE, got '", label, "'"));
    }
    // As a spec file's duplicate key is refused: the second value silently won. (A label the
    // spec file set is replaced: the flag is the later word.)
    if (!given.insert(kv[0]).second) {
      return absl::InvalidArgumentError(absl::StrCat("--label: key '", kv[0], "' given twice"));
    }
    (*into)[kv[0]] = kv[1];
  }
  return absl::OkStatus();
}

namespace {

// Uploads the file `source` (a TorchScriptModel or TensorFile) names by path when it exists
// under `base_dir`, and names it by its artifact instead; a dry run only says it would.
template <typename FileSource>
absl::Status UploadIfLocal(CoordinatorClient& client, const std::filesystem::path& base_dir,
                           bool dry_run, FileSource* source) {
  if (!source->has_path()) return absl::OkStatus();
  // An absolute path, or one that climbs out, is the worker's (under its data root).
  const std::filesystem::path relative(source->path());
  if (relative.empty()) return absl::OkStatus();
  if (relative.is_absolute()) {
    std::cerr << "polyctl: note: " << source->path()
              << " is absolute: sent as a path on the worker, where it must lie inside its "
                 "--data_root; to upload a file of yours, name it relative to --files DIR "
                 "(default: the spec file's directory)\n";
    return absl::OkStatus();
  }
  for (const auto& part : relative) {
    if (part == "..") return absl::OkStatus();
  }
  const std::filesystem::path local = base_dir / relative;
  std::error_code error;
  if (!std::filesystem::is_regular_file(local, error)) {
    std::cerr << "polyctl: note: " << source->path() << " is not a file under "
              << (base_dir.empty() ? std::filesystem::path(".") : base_dir).string()
              << ": sent as a path under the worker's --data_root (--files DIR uploads it from "
                 "DIR; --no-upload says the worker has it)\n";
    return absl::OkStatus();
  }
  if (dry_run) {
    const std::uintmax_t size = std::filesystem::file_size(local, error);
    std::cerr << "polyctl: dry run: would upload " << local.string();
    if (!error) std::cerr << " (" << size << " bytes)";
    std::cerr << "\n";
    return absl::OkStatus();
  }
  absl::StatusOr<polytrain::v1::Artifact> stored =
      client.Upload(local.string(), ArtifactNameFor(local.filename().string()));
  if (!stored.ok()) {
    return absl::Status(stored.status().code(), absl::StrCat("uploading ", local.string(), ": ",
                                                             stored.status().message()));
  }
  std::cerr << "polyctl: " << local.string() << " (" << stored->size_bytes()
            << " bytes) is stored as " << stored->id() << "\n";
  source->set_artifact(stored->id());
  return absl::OkStatus();
}

}  // namespace

void AddSetFlag(CLI::App* command, std::vector<std::string>* settings) {
  command->add_option("--set", *settings,
                      "replace one field of the spec: FIELD=VALUE, FIELD a dotted path of "
                      "JobSpec's fields and VALUE in protobuf text format, e.g. --set "
                      "batch_size=256 --set optimizer.learning_rate=0.05 --set "
                      "'model.mlp.hidden=[256, 128]' (repeatable; a list or message is replaced "
                      "whole)");
}

void AddUploadFlags(CLI::App* command, UploadFlags* flags) {
  CLI::Option* files =
      command
          ->add_option("--files", flags->files_dir,
                       "upload the model and dataset files the spec names by path when they "
                       "exist under this directory (default: the spec file's); they are then "
                       "named by their sha256")
          ->check(ExistingPath(/*directory=*/true));
  command
      ->add_flag("--no-upload", flags->no_upload,
                 "upload nothing: every path is the worker's, under its --data_root")
      ->excludes(files);
  command->add_flag("--dry-run", flags->dry_run,
                    "only check the request with the coordinator and print the jobs it would "
                    "queue; nothing is uploaded or stored");
}

namespace {

bool CheckFirst(const UploadFlags& flags, const polytrain::v1::JobSpec& spec) {
  if (flags.dry_run) return true;
  if (flags.no_upload) return false;
  return (spec.model().has_torchscript() && spec.model().torchscript().has_path()) ||
         (spec.dataset().has_tensors() && spec.dataset().tensors().has_path());
}

// `existing`: the job or sweep the request's --request-id already names (the coordinator
// answers a retry's dry run with it), which a submit would return instead of queueing anew.
void PrintPlannedJobs(const google::protobuf::RepeatedPtrField<polytrain::v1::Job>& jobs,
                      const std::string& existing) {
  if (!existing.empty()) {
    std::printf(
        "dry run: --request-id already names %s: a submit would return it and queue nothing new "
        "(its %d job%s below)\n",
        existing.c_str(), jobs.size(), jobs.size() == 1 ? "" : "s");
  } else {
    std::printf("dry run: the coordinator would queue %d job%s (nothing was uploaded or stored)\n",
                jobs.size(), jobs.size() == 1 ? "" : "s");
  }
  TextTable table({{"name", 40}, {"loss", 24}, {"seed"}});
  for (const polytrain::v1::Job& job : jobs) {
    table.AddRow({job.spec().name(), job.loss_name(), absl::StrCat(job.spec().seed())});
  }
  std::fputs(table.ToString().c_str(), stdout);
}

}  // namespace

absl::StatusOr<bool> CheckWithCoordinator(CoordinatorClient& client, const UploadFlags& flags,
                                          polytrain::v1::SubmitJobRequest* request) {
  if (!CheckFirst(flags, request->spec())) return false;
  request->set_validate_only(true);
  absl::StatusOr<polytrain::v1::Job> planned =
      client.Call(&polytrain::v1::Coordinator::Stub::SubmitJob, *request);
  request->set_validate_only(false);
  if (!planned.ok()) return planned.status();
  if (!flags.dry_run) return false;
  google::protobuf::RepeatedPtrField<polytrain::v1::Job> jobs;
  const std::string existing = planned->id();  // a dry run's job has no id; a retry's has
  *jobs.Add() = *std::move(planned);
  PrintPlannedJobs(jobs, existing);
  return true;
}

absl::StatusOr<bool> CheckWithCoordinator(CoordinatorClient& client, const UploadFlags& flags,
                                          polytrain::v1::SubmitSweepRequest* request) {
  if (!CheckFirst(flags, request->base())) return false;
  request->set_validate_only(true);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> planned =
      client.Call(&polytrain::v1::Coordinator::Stub::SubmitSweep, *request);
  request->set_validate_only(false);
  if (!planned.ok()) return planned.status();
  if (flags.dry_run) PrintPlannedJobs(planned->jobs(), planned->sweep_id());
  return flags.dry_run;
}

absl::Status UploadAsFlagged(CoordinatorClient& client, const UploadFlags& flags,
                             const std::string& spec_file, polytrain::v1::JobSpec* spec) {
  if (flags.no_upload) {
    if (flags.dry_run) {  // what the worker will be asked to find
      for (const std::string* path :
           {&spec->model().torchscript().path(), &spec->dataset().tensors().path()}) {
        if (path->empty()) continue;
        std::cerr << "polyctl: dry run: " << *path
                  << " goes to the worker as a path under its --data_root (--no-upload)\n";
      }
    }
    return absl::OkStatus();
  }
  return UploadLocalFiles(client,
                          flags.files_dir.empty()
                              ? std::filesystem::path(spec_file).parent_path().string()
                              : flags.files_dir,
                          spec, flags.dry_run);
}

absl::Status UploadLocalFiles(CoordinatorClient& client, const std::string& files_dir,
                              polytrain::v1::JobSpec* spec, bool dry_run) {
  if (spec->model().has_torchscript()) {
    POLYTRAIN_RETURN_IF_ERROR(
        UploadIfLocal(client, files_dir, dry_run, spec->mutable_model()->mutable_torchscript()));
  }
  if (spec->dataset().has_tensors()) {
    POLYTRAIN_RETURN_IF_ERROR(
        UploadIfLocal(client, files_dir, dry_run, spec->mutable_dataset()->mutable_tensors()));
  }
  // IDX files are never uploaded (the spec has no artifact for them): said where one lies beside
  // the spec, where a user would expect it to go with the job.
  if (spec->dataset().has_idx()) {
    const polytrain::v1::IdxFiles& idx = spec->dataset().idx();
    for (const std::string* path :
         {&idx.train_images(), &idx.train_labels(), &idx.test_images(), &idx.test_labels()}) {
      std::error_code error;
      if (path->empty() || std::filesystem::path(*path).is_absolute() ||
          !std::filesystem::is_regular_file(std::filesystem::path(files_dir) / *path, error)) {
        continue;
      }
      std::cerr << "polyctl: note: spec.dataset.idx: " << *path
                << " is not uploaded (IDX files never are): each worker reads it under its "
                   "--data_root; to send your data with the job, save it as a tensors file "
                   "(dataset { tensors { path: ... } })\n";
    }
  }
  return absl::OkStatus();
}

int OutcomeExit(const polytrain::v1::Job& job) {
  // A search trial stopped at a rung ended as its search meant it to: not a failure.
  return job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ||
                 job.state() == polytrain::v1::JOB_STATE_STOPPED
             ? kExitOk
             : kExitJobFailed;
}

absl::StatusOr<polytrain::v1::Job> Follow(CoordinatorClient& client, const std::string& job_id,
                                          bool quiet) {
  WatchPrinter printer(isatty(fileno(stdout)) != 0);
  absl::StatusOr<polytrain::v1::Job> final =
      client.Watch(job_id, [&](const polytrain::v1::JobEvent& event) {
        if (!quiet) printer.Print(event);
      });
  if (!quiet) printer.Finish();
  return final;
}

}  // namespace polytrain::command_support
