// polyctl upload FILE [--name NAME]
#include <filesystem>
#include <iostream>
#include <memory>

#include "api/artifacts.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct UploadOptions {
  std::string file, name;
};

int RunUpload(const UploadOptions& options, CoordinatorClient& client) {
  const std::string name =
      options.name.empty()
          ? ArtifactNameFor(std::filesystem::path(options.file).filename().string())
          : options.name;
  absl::StatusOr<polytrain::v1::Artifact> stored = client.Upload(options.file, name);
  if (!stored.ok()) return Fail(stored.status());
  std::cout << stored->id() << std::endl;
  return kExitOk;
}

}  // namespace

Command AddUploadCommand(CLI::App& app) {
  auto options = std::make_shared<UploadOptions>();
  CLI::App* upload = app.add_subcommand(
      "upload",
      "Store a file in the coordinator (a TorchScript model, a torch.save tensor file); prints "
      "its id (sha256:...), which a JobSpec names as model { torchscript { artifact: ID } } or "
      "dataset { tensors { artifact: ID } }. Uploading the same bytes again stores nothing new.");
  upload->add_option("file", options->file, "the file")->required()->check(CLI::ExistingFile);
  upload->add_option("--name", options->name, "a name for people (default: the file's name)");
  return {upload, [options](CoordinatorClient& client) { return RunUpload(*options, client); }};
}

}  // namespace polytrain
