// The fixture of the artifact catalog's tests: a coordinator core on a real SQLite file and a
// real --artifacts directory in a scratch directory, with helpers to upload, submit jobs that
// name an upload, delete and list as a given caller.
#ifndef POLYTRAIN_SERVER_ARTIFACT_CATALOG_FIXTURE_H_
#define POLYTRAIN_SERVER_ARTIFACT_CATALOG_FIXTURE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "common/sha256.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/artifact_catalog.h"
#include "server/coordinator_core.h"
#include "testing/scratch_dir.h"

namespace polytrain {

class ArtifactCatalogTest : public testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    Open();
  }
  void Open() {
    core_.reset();
    Scheduler::Options options;
    options.lease_thread = false;
    core_ = *CoordinatorCore::Open(
        (dir_ / "db").string(), options,
        CoordinatorCore::Artifacts{(dir_ / "artifacts").string(), 256, max_client_bytes_});
    api_ = &core_->client_api();
  }
  void TearDown() override {
    core_.reset();
    ScratchDirTest::TearDown();
  }

  // Uploads `content` in chunks of `chunk` bytes, announcing `sha256` (its own by default) and,
  // if given, `size_bytes`.
  absl::StatusOr<polytrain::v1::Artifact> Upload(const std::string& content, const Caller& caller,
                                                 std::string sha256 = "", size_t chunk = 10,
                                                 std::optional<int64_t> size_bytes = std::nullopt) {
    if (sha256.empty()) sha256 = ArtifactIdOfHex(Sha256Hex(content));
    polytrain::v1::UploadArtifactRequest first;
    first.set_name("model.pt");
    first.set_sha256(sha256);
    if (size_bytes.has_value()) first.set_size_bytes(*size_bytes);
    absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
    if (!catalog.ok()) return catalog.status();
    absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> upload =
        (*catalog)->BeginUpload(first, caller);
    if (!upload.ok()) return upload.status();
    for (size_t at = 0; at < content.size(); at += chunk) {
      if (absl::Status s = (*upload)->Append(content.substr(at, chunk)); !s.ok()) return s;
    }
    return (*upload)->Finish();
  }

  // A job whose model (or, `as_dataset`, whose dataset, the model built in) is the artifact `id`.
  absl::StatusOr<polytrain::v1::Job> SubmitNaming(const std::string& id, const Caller& caller,
                                                  bool as_dataset = false,
                                                  const std::string& request_id = "",
                                                  bool validate_only = false) {
    polytrain::v1::SubmitJobRequest request;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(spec {
             name: "byo"
             model { torchscript { path: "model.pt" } }
             dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
             loss { cross_entropy {} }
             optimizer { sgd {} learning_rate: 0.1 }
             epochs: 1
             batch_size: 2
           })",
        &request));
    if (as_dataset) {
      request.mutable_spec()->mutable_model()->mutable_mlp()->add_hidden(4);
      request.mutable_spec()->mutable_dataset()->mutable_tensors()->set_artifact(id);
    } else {
      request.mutable_spec()->mutable_model()->mutable_torchscript()->set_artifact(id);
    }
    request.set_client_request_id(request_id);
    request.set_validate_only(validate_only);
    return api_->SubmitJob(request, caller);
  }

  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> Delete(const std::string& id,
                                                               const Caller& caller) {
    polytrain::v1::DeleteArtifactRequest request;
    request.set_id(id);
    return api_->DeleteArtifact(request, caller);
  }

  std::vector<std::string> Listed(const Caller& caller) {
    absl::StatusOr<polytrain::v1::ListArtifactsResponse> listed =
        api_->ListArtifacts(polytrain::v1::ListArtifactsRequest(), caller);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::vector<std::string> rows;
    for (const polytrain::v1::Artifact& a : listed->artifacts()) {
      rows.push_back(absl::StrCat(a.owner(), " ", a.size_bytes(), " ", a.active_jobs()));
    }
    return rows;
  }

  std::filesystem::path StoredFile(const std::string& id) {
    return dir_ / "artifacts" / "sha256" / ArtifactHex(id);
  }

  int64_t max_client_bytes_ = kDefaultMaxClientArtifactBytes;  // set before Open()
  const Caller kAlice = Caller::Client("alice");
  const Caller kBob = Caller::Client("bob");
  const Caller kAdmin = Caller::Admin("root");
  std::unique_ptr<CoordinatorCore> core_;
  ClientApi* api_ = nullptr;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_CATALOG_FIXTURE_H_
