// polyctl artifacts [--all] [--limit N] [--page-token T] [--format table|json]
// polyctl artifacts delete ID
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/text_table.h"
#include "client/commands/commands.h"
#include "common/byte_count.h"
#include "common/proto_file.h"
#include "common/timestamps.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct ArtifactsOptions {
  bool all = false;
  int limit = 1000;
  std::string page_token;
  std::string format = "table";
  std::string delete_id;
  CLI::App* delete_command = nullptr;
};

int RunList(const ArtifactsOptions& options, CoordinatorClient& client) {
  polytrain::v1::ListArtifactsRequest request;
  request.set_page_size(options.limit);
  request.set_page_token(options.page_token);
  // Lower-case headers, as every other polyctl table.
  TextTable table({{"id", 71},
                   {"name", 24, false, 2},
                   {"bytes", 12, true, 2},
                   {"owner", 12, false, 2},
                   {"created (UTC)", 19, false, 2},
                   {"active jobs", 0, false, 2}});
  polytrain::v1::ListArtifactsResponse listed;  // --format json: every page's, as one list
  do {
    absl::StatusOr<polytrain::v1::ListArtifactsResponse> page =
        client.Call(&polytrain::v1::Coordinator::Stub::ListArtifacts, request);
    if (!page.ok()) return Fail(page.status());  // nothing on stdout then
    for (const polytrain::v1::Artifact& a : page->artifacts()) {
      *listed.add_artifacts() = a;
      table.AddRow({a.id(), a.name(), absl::StrCat(a.size_bytes()),
                    a.owner().empty() ? "-" : a.owner(), TimestampText(a.create_time()),
                    absl::StrCat(a.active_jobs())});
    }
    request.set_page_token(page->next_page_token());
    // Every page says the same of all the records.
    listed.set_total_records(page->total_records());
    listed.set_total_bytes(page->total_bytes());
    if (page->has_quota_bytes()) listed.set_quota_bytes(page->quota_bytes());
  } while (options.all && !request.page_token().empty());
  listed.set_next_page_token(request.page_token());
  if (options.format == "json") {
    std::fputs((ToJson(listed, /*include_defaults=*/true) + "\n").c_str(), stdout);
  } else {
    std::fputs(table.ToString().c_str(), stdout);
    std::cout << listed.total_records() << " artifact(s), " << ByteCountText(listed.total_bytes())
              << " in all"
              << (listed.has_quota_bytes()
                      ? absl::StrCat(", of a quota of ", ByteCountText(listed.quota_bytes()))
                      : std::string(", no quota"))
              << std::endl;
  }
  if (!request.page_token().empty()) {
    std::cerr << "polyctl: more artifacts than these: --all lists every one, --page-token "
              << request.page_token() << " the next page\n";
  }
  return kExitOk;
}

int RunDelete(const ArtifactsOptions& options, CoordinatorClient& client) {
  polytrain::v1::DeleteArtifactRequest request;
  request.set_id(options.delete_id);
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> deleted =
      client.Call(&polytrain::v1::Coordinator::Stub::DeleteArtifact, request);
  if (!deleted.ok()) {
    return Fail(command_support::MayHaveBeenDone(
        deleted.status(), client, "deleted " + options.delete_id, "polyctl artifacts"));
  }
  std::cout << "deleted " << deleted->deleted_size() << " record(s) of " << options.delete_id
            << (deleted->file_deleted() ? "; the file is gone" : "") << std::endl;
  return kExitOk;
}

}  // namespace

Command AddArtifactsCommand(CLI::App& app) {
  auto options = std::make_shared<ArtifactsOptions>();
  CLI::App* artifacts = app.add_subcommand(
      "artifacts",
      "List your uploaded files (an admin token: everyone's), newest first, then how many "
      "there are and what they hold in all, of your storage quota (a client token's: the "
      "coordinator's --max_artifact_bytes_per_client).");
  artifacts->add_flag("--all", options->all, "every page, not only the newest --limit");
  artifacts->add_option("--limit", options->limit, "at most this many on a page")
      ->check(IntegerRange(1, 1000))
      ->capture_default_str();
  artifacts
      ->add_option("--page-token", options->page_token,
                   "the page after a previous one (its next_page_token, or the token it names "
                   "on stderr)")
      ->check(NotEmpty());
  artifacts
      ->add_option("--format", options->format,
                   "table or json (ListArtifactsResponse: artifacts, total_records, "
                   "total_bytes, quota_bytes when you have one, and next_page_token when more "
                   "than these are stored)")
      ->transform(CLI::IsMember({"table", "json"}, CLI::ignore_case))
      ->capture_default_str();
  options->delete_command = artifacts->add_subcommand(
      "delete",
      "Delete your record of an artifact (refused while a queued or running job of "
      "yours names it); the file goes with its last record.");
  options->delete_command->add_option("id", options->delete_id, "sha256:...")->required();
  return {artifacts, [options](CoordinatorClient& client) {
            return *options->delete_command ? RunDelete(*options, client)
                                            : RunList(*options, client);
          }};
}

}  // namespace polytrain
