// What the coordinator compares at start-up between --db and --artifacts: uploads whose file is
// gone (said missing at submit too) and unended jobs whose checkpoint is gone.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/artifact_catalog_fixture.h"
#include "testing/zip_archive.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::Artifact;

// An upload whose file is gone (removed by hand, or the database started beside another
// --artifacts directory) is said to be missing at submit, and counted for the start-up warning.
TEST_F(ArtifactCatalogTest, AnUploadWhoseFileIsGoneIsSaidToBeMissing) {
  absl::StatusOr<Artifact> kept = Upload(testing::StoredModelZip("kept"), kAlice);
  absl::StatusOr<Artifact> gone = Upload(testing::StoredModelZip("gone"), kAlice);
  ASSERT_TRUE(kept.ok() && gone.ok());
  ASSERT_TRUE(Upload(testing::StoredModelZip("gone"), kBob).ok());  // one file, two records
  absl::StatusOr<ArtifactCatalog::MissingFiles> missing = (*api_->Artifacts())->FindMissingFiles();
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->missing, 0);
  EXPECT_EQ(missing->recorded, 2);
  ASSERT_TRUE(fs::remove(StoredFile(gone->id())));
  EXPECT_EQ(SubmitNaming(gone->id(), kAlice).status().message(),
            absl::StrCat("spec.model.torchscript.artifact: ", gone->id(),
                         " ('model.pt') is listed but its file is missing from the coordinator's "
                         "--artifacts directory; upload it again (polyctl upload)"));
  missing = (*api_->Artifacts())->FindMissingFiles();
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->missing, 1);
  EXPECT_EQ(missing->recorded, 2);
  EXPECT_EQ(missing->first, std::vector<std::string>{"model.pt (" + gone->id() + ")"});
}

// An unended job whose checkpoint is gone is found for the start-up warning (it would start
// again from step 0 without a word); an ended one's is not (it runs no more).
TEST_F(ArtifactCatalogTest, AnUnendedJobWhoseCheckpointIsGoneIsFound) {
  absl::StatusOr<Artifact> model = Upload(testing::StoredModelZip("model"), kAlice);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<polytrain::v1::Job> job = SubmitNaming(model->id(), kAlice);
  ASSERT_TRUE(job.ok()) << job.status();
  const std::string checkpoint = job->id() + "/ckpt-000000000010.pt";
  job->set_checkpoint(checkpoint);
  ASSERT_TRUE(core_->store().UpdateJob(*job).ok());
  absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ(*(*catalog)->FindJobsMissingCheckpoint(), std::vector<std::string>{job->id()});
  fs::create_directories(dir_ / "artifacts" / job->id());
  std::ofstream(dir_ / "artifacts" / checkpoint) << "bytes";
  EXPECT_TRUE((*catalog)->FindJobsMissingCheckpoint()->empty());
  fs::remove(dir_ / "artifacts" / checkpoint);
  job->set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(core_->store().UpdateJob(*job).ok());
  EXPECT_TRUE((*catalog)->FindJobsMissingCheckpoint()->empty());
}

}  // namespace
}  // namespace polytrain
