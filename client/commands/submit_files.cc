// How submit, sweep and search send the files a spec names: checked by the coordinator first,
// uploaded, or recognised as what a retry's first call uploaded.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "cli/command_line.h"
#include "cli/text_table.h"
#include "client/commands/commands.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace polytrain::command_support {

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
// would; false where there is none.
template <typename FileSource>
absl::StatusOr<bool> NameByHash(const std::filesystem::path& base_dir, FileSource* source) {
  const std::optional<std::filesystem::path> local = LocalFile(base_dir, *source, false);
  if (!local.has_value()) return false;
  absl::StatusOr<std::string> hex = Sha256HexOfFile(local->string());
  if (!hex.ok()) return hex.status();
  source->set_artifact(ArtifactIdOfHex(*hex));
  return true;
}

// `spec` with every file polyctl would upload for it named by its sha256 instead, as the
// coordinator stored the spec of a call that uploaded them; none where nothing would be uploaded.
absl::StatusOr<std::optional<polytrain::v1::JobSpec>> SpecAsUploaded(
    const std::filesystem::path& files_dir, polytrain::v1::JobSpec spec) {
  bool named = false;
  if (spec.model().has_torchscript()) {
    absl::StatusOr<bool> model = NameByHash(files_dir, spec.mutable_model()->mutable_torchscript());
    if (!model.ok()) return model.status();
    named |= *model;
  }
  if (spec.dataset().has_tensors()) {
    absl::StatusOr<bool> data = NameByHash(files_dir, spec.mutable_dataset()->mutable_tensors());
    if (!data.ok()) return data.status();
    named |= *data;
  }
  if (!named) return std::nullopt;
  return spec;
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

// The request as the coordinator checks it (validate_only): the id of what its client_request_id
// already names ("" for none: a dry run's jobs have no id) and the jobs it would queue.
struct Planned {
  std::string stored_id;
  google::protobuf::RepeatedPtrField<polytrain::v1::Job> jobs;
};

polytrain::v1::JobSpec* MutableSpec(polytrain::v1::SubmitJobRequest* request) {
  return request->mutable_spec();
}
polytrain::v1::JobSpec* MutableSpec(polytrain::v1::SubmitSweepRequest* request) {
  return request->mutable_base();
}

absl::StatusOr<Planned> AskFirst(CoordinatorClient& client,
                                 polytrain::v1::SubmitJobRequest request) {
  request.set_validate_only(true);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::SubmitJob, request);
  if (!job.ok()) return job.status();
  Planned planned;
  planned.stored_id = job->id();
  *planned.jobs.Add() = *std::move(job);
  return planned;
}

absl::StatusOr<Planned> AskFirst(CoordinatorClient& client,
                                 polytrain::v1::SubmitSweepRequest request) {
  request.set_validate_only(true);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> sweep =
      client.Call(&polytrain::v1::Coordinator::Stub::SubmitSweep, request);
  if (!sweep.ok()) return sweep.status();
  Planned planned;
  planned.stored_id = sweep->sweep_id();
  planned.jobs = std::move(*sweep->mutable_jobs());
  return planned;
}

// A request whose client_request_id names a stored one "submitted with another spec" may be a
// retry of a call that uploaded the spec's files: the coordinator stored its spec naming them by
// their sha256, so the request is asked again as that spec. Where it is stored so, the request
// takes those names (nothing is left to upload).
template <typename Request>
absl::StatusOr<Planned> AsRetryOfAnUpload(CoordinatorClient& client, const UploadFlags& flags,
                                          const std::string& spec_file, const absl::Status& refused,
                                          Request* request) {
  if (flags.no_upload || request->client_request_id().empty()) return refused;
  absl::StatusOr<std::optional<polytrain::v1::JobSpec>> uploaded =
      SpecAsUploaded(FilesDir(flags, spec_file), *MutableSpec(request));
  if (!uploaded.ok()) return uploaded.status();  // a file the retry cannot read
  if (!uploaded->has_value()) return refused;
  Request retry = *request;
  *MutableSpec(&retry) = **uploaded;
  absl::StatusOr<Planned> stored = AskFirst(client, retry);
  if (stored.ok() && !stored->stored_id.empty()) {
    *MutableSpec(request) = **std::move(uploaded);
    return stored;
  }
  return absl::AlreadyExistsError(
      absl::StrCat(refused.message(),
                   " (the files it names compared by their sha256, as its "
                   "first call uploaded them)"));
}

template <typename Request>
absl::StatusOr<bool> PrepareRequest(CoordinatorClient& client, const UploadFlags& flags,
                                    const std::string& spec_file, Request* request) {
  polytrain::v1::JobSpec* spec = MutableSpec(request);
  std::string stored_id;
  if (CheckFirst(flags, *spec)) {
    absl::StatusOr<Planned> planned = AskFirst(client, *request);
    if (absl::IsAlreadyExists(planned.status())) {
      planned = AsRetryOfAnUpload(client, flags, spec_file, planned.status(), request);
    }
    if (!planned.ok()) return planned.status();
    stored_id = planned->stored_id;
    if (flags.dry_run) PrintPlannedJobs(planned->jobs, stored_id);
  }
  // What its first call stored is the request as it stands now: nothing to upload or name.
  if (stored_id.empty()) POLYTRAIN_RETURN_IF_ERROR(UploadAsFlagged(client, flags, spec_file, spec));
  return flags.dry_run;
}

}  // namespace

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

absl::StatusOr<bool> PrepareSubmit(CoordinatorClient& client, const UploadFlags& flags,
                                   const std::string& spec_file,
                                   polytrain::v1::SubmitJobRequest* request) {
  return PrepareRequest(client, flags, spec_file, request);
}

absl::StatusOr<bool> PrepareSubmit(CoordinatorClient& client, const UploadFlags& flags,
                                   const std::string& spec_file,
                                   polytrain::v1::SubmitSweepRequest* request) {
  return PrepareRequest(client, flags, spec_file, request);
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

}  // namespace polytrain::command_support
