#include "server/coordinator_core.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<CoordinatorCore>> CoordinatorCore::Open(
    const std::string& db, const Scheduler::Options& options,
    const std::optional<Artifacts>& artifacts) {
  std::unique_ptr<CoordinatorCore> core(new CoordinatorCore());
  // The artifacts' directory first: one that cannot be used refuses the start before the
  // database file is created.
  if (artifacts.has_value()) {
    absl::StatusOr<std::unique_ptr<ArtifactStore>> files = ArtifactStore::Open(artifacts->dir);
    if (!files.ok()) return files.status();
    core->artifact_store_ = *std::move(files);
  }
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(db);
  if (!store.ok()) return store.status();
  core->store_ = *std::move(store);
  absl::StatusOr<std::unique_ptr<Scheduler>> scheduler =
      Scheduler::Create(core->store_.get(), options);
  if (!scheduler.ok()) return scheduler.status();
  core->scheduler_ = *std::move(scheduler);
  core->searches_ = std::make_unique<SearchController>(core->store_.get(), core->scheduler_.get());
  core->queries_ = std::make_unique<JobQueries>(core->store_.get());
  if (artifacts.has_value()) {
    core->artifact_catalog_ = std::make_unique<ArtifactCatalog>(
        core->artifact_store_.get(), core->store_.get(), artifacts->max_upload_bytes);
  }
  core->client_api_ = std::make_unique<ClientApi>(core->scheduler_.get(), core->queries_.get(),
                                                  core->artifact_catalog_.get());
  core->worker_protocol_ = std::make_unique<WorkerProtocol>(core->scheduler_.get());
  core->searches_->Recover();  // searches go on from where the store says they are
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
