#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
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
#include "common/sha256.h"
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

// The file under `base_dir` that `source` (a TorchScriptModel or TensorFile) names by a relative
// path: polyctl uploads it. None for a path that stays the worker's (absolute, climbing out, or
// no file there), which `say_why` says on stderr.
template <typename FileSource>
std::optional<std::filesystem::path> LocalFile(const std::filesystem::path& base_dir,
                                               const FileSource& source, bool say_why) {
  if (!source.has_path()) return std::nullopt;
  // An absolute path, or one that climbs out, is the worker's (under its data root).
  const std::filesystem::path relative(source.path());
  if (relative.empty()) return std::nullopt;
  if (relative.is_absolute()) {
    if (say_why) {
      std::cerr << "polyctl: note: " << source.path()
                << " is absolute: sent as a path on the worker, where it must lie inside its "
                   "--data_root; to upload a file of yours, name it relative to --files DIR "
                   "(default: the spec file's directory)\n";
    }
    return std::nullopt;
  }
  for (const auto& part : relative) {
    if (part == "..") return std::nullopt;
  }
  std::filesystem::path local = base_dir / relative;
  std::error_code error;
  if (!std::filesystem::is_regular_file(local, error)) {
    if (say_why) {
      std::cerr << "polyctl: note: " << source.path() << " is not a file under "
                << (base_dir.empty() ? std::filesystem::path(".") : base_dir).string()
                << ": sent as a path under the worker's --data_root (--files DIR uploads it from "
                   "DIR; --no-upload says the worker has it)\n";
    }
    return std::nullopt;
  }
  return local;
}

// Uploads the file `source` names by path when it exists under `base_dir` (LocalFile), and names
// it by its artifact instead; a dry run only says it would.
template <typename FileSource>
absl::Status UploadIfLocal(CoordinatorClient& client, const std::filesystem::path& base_dir,
                           bool dry_run, FileSource* source) {
  const std::optional<std::filesystem::path> found = LocalFile(base_dir, *source, true);
  if (!found.has_value()) return absl::OkStatus();
  const std::filesystem::path& local = *found;
  std::error_code error;
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

std::filesystem::path FilesDir(const UploadFlags& flags, const std::string& spec_file) {
  return flags.files_dir.empty() ? std::filesystem::path(spec_file).parent_path()
                                 : std::filesystem::path(flags.files_dir);
}

// Names the file `source` names by path under `base_dir` (LocalFile) by its sha256, as its upload
// would; false where there is none, or it cannot be read (its upload then says why).
template <typename FileSource>
bool NameByHash(const std::filesystem::path& base_dir, FileSource* source) {
  const std::optional<std::filesystem::path> local = LocalFile(base_dir, *source, false);
  if (!local.has_value()) return false;
  absl::StatusOr<std::string> hex = Sha256HexOfFile(local->string());
  if (!hex.ok()) return false;
  source->set_artifact(ArtifactIdOfHex(*hex));
  return true;
}

// A request with --request-id whose spec names files polyctl uploads may retry one whose first
// call uploaded them: the coordinator stored that spec with the files named by their sha256, so
// the retry is known by the spec named so. Returns that spec, or none where nothing would be
// uploaded.
std::optional<polytrain::v1::JobSpec> SpecAsUploaded(const UploadFlags& flags,
                                                     const std::string& spec_file,
                                                     const std::string& request_id,
                                                     polytrain::v1::JobSpec spec) {
  if (request_id.empty() || flags.no_upload) return std::nullopt;
  const std::filesystem::path files_dir = FilesDir(flags, spec_file);
  bool named = false;
  if (spec.model().has_torchscript()) {
    named |= NameByHash(files_dir, spec.mutable_model()->mutable_torchscript());
  }
  if (spec.dataset().has_tensors()) {
    named |= NameByHash(files_dir, spec.mutable_dataset()->mutable_tensors());
  }
  if (!named) return std::nullopt;
  return spec;
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
                                          const std::string& spec_file,
                                          polytrain::v1::SubmitJobRequest* request) {
  if (!CheckFirst(flags, request->spec())) return false;
  if (std::optional<polytrain::v1::JobSpec> uploaded =
          SpecAsUploaded(flags, spec_file, request->client_request_id(), request->spec())) {
    polytrain::v1::SubmitJobRequest retry = *request;
    *retry.mutable_spec() = *uploaded;
    retry.set_validate_only(true);
    absl::StatusOr<polytrain::v1::Job> stored =
        client.Call(&polytrain::v1::Coordinator::Stub::SubmitJob, retry);
    if (stored.ok() && !stored->id().empty()) {         // the job its first call stored
      *request->mutable_spec() = *std::move(uploaded);  // nothing is left to upload
      if (!flags.dry_run) return false;
      google::protobuf::RepeatedPtrField<polytrain::v1::Job> jobs;
      *jobs.Add() = *stored;
      PrintPlannedJobs(jobs, stored->id());
      return true;
    }
  }
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
                                          const std::string& spec_file,
                                          polytrain::v1::SubmitSweepRequest* request) {
  if (!CheckFirst(flags, request->base())) return false;
  if (std::optional<polytrain::v1::JobSpec> uploaded =
          SpecAsUploaded(flags, spec_file, request->client_request_id(), request->base())) {
    polytrain::v1::SubmitSweepRequest retry = *request;
    *retry.mutable_base() = *uploaded;
    retry.set_validate_only(true);
    absl::StatusOr<polytrain::v1::SubmitSweepResponse> stored =
        client.Call(&polytrain::v1::Coordinator::Stub::SubmitSweep, retry);
    if (stored.ok() && !stored->sweep_id().empty()) {   // the sweep its first call stored
      *request->mutable_base() = *std::move(uploaded);  // nothing is left to upload
      if (flags.dry_run) PrintPlannedJobs(stored->jobs(), stored->sweep_id());
      return flags.dry_run;
    }
  }
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
  return UploadLocalFiles(client, FilesDir(flags, spec_file).string(), spec, flags.dry_run);
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
