// polyctl upload FILE [--name NAME]
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "cli/command_line.h"
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
  if (stored->name() != name) {  // the same bytes, stored before under another name
    std::cerr << "polyctl: " << stored->id() << " was stored before as '" << stored->name()
              << "' (the same bytes are stored once, under their first name)\n";
  } else if (options.name.empty() &&
             name != std::filesystem::path(options.file).filename().string()) {
    // An artifact's name is a plain file name: "my model.pt" is stored as "my_model.pt".
    std::cerr << "polyctl: stored as '" << name << "' (an artifact's name is [A-Za-z0-9._-])\n";
  }
  std::cout << stored->id() << std::endl;
  return kExitOk;
}

}  // namespace

Command AddUploadCommand(CLI::App& app) {
  auto options = std::make_shared<UploadOptions>();
  CLI::App* upload = app.add_subcommand(
      "upload", "Store a model or dataset file in the coordinator; prints its id (sha256:...).");
  // Its own note, then polyctl's (exit codes, where the coordinator and token come from), which
  // a subcommand's footer would otherwise hide.
  upload->footer(absl::StrCat(
      "A JobSpec names the id as model { torchscript { artifact: ID } } or dataset { tensors { "
      "artifact: ID } }; submit and sweep upload the files a spec names by path themselves "
      "(--files). The same bytes uploaded again are stored once. A file is at most the "
      "coordinator's --max_artifact_bytes (",
      kDefaultMaxUploadBytes >> 30, " GiB unless its operator set it; ", kMaxUploadBytes >> 30,
      " GiB at most); a name is 1 to ", kMaxArtifactNameLength,
      " characters of [A-Za-z0-9._-], not starting with '.' (without --name, the file's name "
      "with other characters made '_').\n",
      app.get_footer()));
  upload->add_option("file", options->file, "the file")->required()->check(ExistingPath());
  upload->add_option("--name", options->name, "a name for people (default: the file's name)")
      ->check(NotEmpty());
  return {upload, [options](CoordinatorClient& client) { return RunUpload(*options, client); }};
}

}  // namespace polytrain
