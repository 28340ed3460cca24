#include "server/coordinator_core.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/short_list.h"
#include "common/status_macros.h"
#include "server/sweep_deletion.h"
#include "spdlog/spdlog.h"

namespace polytrain {
absl::StatusOr<std::unique_ptr<CoordinatorCore>> CoordinatorCore::Open(
    const std::string& db, const Scheduler::Options& options,
    const std::optional<Artifacts>& artifacts, const ClientPolicy& policy) {
  std::unique_ptr<CoordinatorCore> core(new CoordinatorCore());
  const bool in_memory = db.empty() || db == ":memory:";
  std::error_code ignored;
  // The database file itself is locked, so that any path to it (a symlink, a hard link) finds
  // the lock: an existing one first, so that a busy database refuses the start untouched.
  auto lock_db = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<ExclusiveLock>> lock =
        ExclusiveLock::OnFile(db, absl::StrCat("--db ", db));
    if (!lock.ok()) return lock.status();
    core->db_lock_ = *std::move(lock);
    return absl::OkStatus();
  };
  const bool db_existed = !in_memory && std::filesystem::exists(db, ignored);
  if (db_existed) POLYTRAIN_RETURN_IF_ERROR(lock_db());
  // A start refused after the artifacts' directory was made here removes it again (its lock
  // first): nothing is left behind by a start that did not happen.
  const bool artifacts_existed =
      artifacts.has_value() && std::filesystem::exists(artifacts->dir, ignored);
  bool opened = false;
  absl::Cleanup remove_made_directory = [&] {
    if (opened || !artifacts.has_value() || artifacts_existed) return;
    core.reset();
    std::filesystem::remove_all(artifacts->dir, ignored);
  };
  // Then the artifacts' directory: one that cannot be used refuses the start before a new
  // database file is created.
  if (artifacts.has_value()) {
    // Locked before ArtifactStore::Open removes what interrupted uploads left: another
    // coordinator's uploads in flight look the same. (Where it cannot be made, Open says why.)
    // Made if missing, as the --db file is, but only in a directory that exists: a typo must not
    // create a tree of directories anywhere.
    // Normalized ("new/." and "x/../new" are new), without a trailing separator ("new/").
    std::filesystem::path made =
        std::filesystem::absolute(artifacts->dir, ignored).lexically_normal();
    if (!made.has_filename()) made = made.parent_path();
    const std::filesystem::path parent = made.parent_path();
    if (!std::filesystem::exists(artifacts->dir, ignored) &&
        !std::filesystem::is_directory(parent, ignored)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--artifacts ", artifacts->dir, ": no directory ", parent.string(), " to make it in"));
    }
    std::filesystem::create_directory(made, ignored);
    if (std::filesystem::is_directory(artifacts->dir, ignored)) {
      absl::StatusOr<std::unique_ptr<ExclusiveLock>> lock =
          ExclusiveLock::OnDirectory(artifacts->dir, absl::StrCat("--artifacts ", artifacts->dir));
      if (!lock.ok()) return lock.status();
      core->artifacts_lock_ = *std::move(lock);
    }
    absl::StatusOr<std::unique_ptr<ArtifactStore>> files = ArtifactStore::Open(artifacts->dir);
    if (!files.ok()) return files.status();
    core->artifact_store_ = *std::move(files);
  }
  if (!in_memory && !db_existed) POLYTRAIN_RETURN_IF_ERROR(lock_db());  // made here, empty
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(db);
  if (!store.ok()) {
    // SQLite has closed it: a file made here for nothing goes again.
    if (!in_memory && !db_existed && std::filesystem::file_size(db, ignored) == 0) {
      std::filesystem::remove(db, ignored);
    }
    return store.status();
  }
  core->store_ = *std::move(store);
  absl::StatusOr<std::unique_ptr<Scheduler>> scheduler =
      Scheduler::Create(core->store_.get(), options);
  if (!scheduler.ok()) return scheduler.status();
  core->scheduler_ = *std::move(scheduler);
  core->searches_ = std::make_unique<SearchController>(core->store_.get(), core->scheduler_.get(),
                                                       policy.max_client_priority);
  core->queries_ = std::make_unique<JobQueries>(core->store_.get());
  if (artifacts.has_value()) {
    core->artifact_catalog_ =
        std::make_unique<ArtifactCatalog>(core->artifact_store_.get(), core->store_.get(),
                                          artifacts->max_upload_bytes, artifacts->max_client_bytes);
    // A database started beside another directory than its own serves, but says so: its
    // uploads would otherwise be listed and refused at submit without a word at start.
    absl::StatusOr<ArtifactCatalog::MissingFiles> missing =
        core->artifact_catalog_->FindMissingFiles();
    if (!missing.ok()) {  // a warning's check: the coordinator starts anyway
      spdlog::warn("--artifacts {}: could not compare it with --db's uploads: {}", artifacts->dir,
                   std::string(missing.status().message()));
      missing = ArtifactCatalog::MissingFiles{};
    }
    // Job directories without a job: files a delete could not remove, or another database's
    // checkpoints. Said, never removed here: with the wrong --db they are another's jobs.
    std::vector<std::string> strays;
    for (const std::string& id : core->artifact_store_->JobDirectories()) {
      if (absl::IsNotFound(core->store_->GetJob(id).status())) strays.push_back(id);
    }
    if (!strays.empty()) {
      spdlog::warn(
          "--artifacts {}: {} job director{} with no job in --db {} ({}): left by deletes that "
          "could not remove them, or another database's; remove them by hand if unneeded",
          artifacts->dir, strays.size(), strays.size() == 1 ? "y" : "ies", db,
          ShortList(strays, 3));
    }
    // Unended jobs whose checkpoint is not there would start again without a word.
    absl::StatusOr<std::vector<std::string>> lacking =
        core->artifact_catalog_->FindJobsMissingCheckpoint();
    if (!lacking.ok()) {
      spdlog::warn("--artifacts {}: could not compare it with --db's checkpoints: {}",
                   artifacts->dir, std::string(lacking.status().message()));
    } else if (!lacking->empty()) {
      spdlog::warn(
          "--artifacts {}: {} unended job(s) in --db {} have no file there for the checkpoint "
          "they resume from ({}): a next attempt of each would resume from an older checkpoint "
          "there, or from step 0; is this the database's own artifacts directory?",
          artifacts->dir, lacking->size(), db, ShortList(*lacking, 3));
    }
    if (missing->missing > 0) {
      spdlog::warn(
          "--artifacts {}: {} of the {} uploads --db {} records have no file there ({}{}): "
          "jobs naming them are refused until they are uploaded again; is this the database's "
          "own artifacts directory?",
          artifacts->dir, missing->missing, missing->recorded, db,
          absl::StrJoin(missing->first, ", "), missing->missing > 3 ? ", ..." : "");
    }
  }
  core->client_api_ = std::make_unique<ClientApi>(
      core->scheduler_.get(), core->store_.get(), core->queries_.get(), core->searches_.get(),
      core->artifact_catalog_.get(), policy, core->artifact_store_.get());
  core->worker_protocol_ =
      std::make_unique<WorkerProtocol>(core->scheduler_.get(), options.metrics);
  if (absl::Status s = FinishSweepDeletions(*core->scheduler_, *core->store_,
                                            core->artifact_store_.get());
      !s.ok()) {  // the sweep stays as it was left: a DeleteSweep of it tries again
    spdlog::warn("finishing a sweep's deletion that a stop cut short: {}",
                 std::string(s.message()));
  }
  core->searches_->Recover();  // searches go on from where the store says they are
  opened = true;
  return core;
}

CoordinatorCore::~CoordinatorCore() {
  // Whatever holds a pointer goes before what it points to.
  worker_protocol_.reset();
  client_api_.reset();
  artifact_catalog_.reset();
  artifact_store_.reset();
  queries_.reset();
  searches_.reset();
  scheduler_.reset();
  store_.reset();
}

}  // namespace polytrain
