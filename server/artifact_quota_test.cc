// A client token's storage quota (--max_artifact_bytes_per_client) on a real SQLite file and
// --artifacts directory: its edge, what counts against it, uploads in flight, and listing.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/artifact_catalog_fixture.h"
#include "testing/zip_archive.h"

namespace polytrain {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ArtifactQuotaTest : public ArtifactCatalogTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    max_client_bytes_ = 100;
    Open();
  }

  // Starts an upload of `content` as `caller`, announcing its size if `announce`.
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> Begin(const std::string& content,
                                                                 const Caller& caller,
                                                                 bool announce) {
    polytrain::v1::UploadArtifactRequest first;
    first.set_name("data.pt");
    first.set_sha256(ArtifactIdOfHex(Sha256Hex(content)));
    if (announce) first.set_size_bytes(static_cast<int64_t>(content.size()));
    return (*api_->Artifacts())->BeginUpload(first, caller);
  }

  polytrain::v1::ListArtifactsResponse List(const Caller& caller, int page_size = 0) {
    polytrain::v1::ListArtifactsRequest request;
    request.set_page_size(page_size);
    absl::StatusOr<polytrain::v1::ListArtifactsResponse> listed =
        api_->ListArtifacts(request, caller);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return *listed;
  }
};

TEST_F(ArtifactQuotaTest, AClientStoresUpToItsQuotaAndNotAByteMore) {
  ASSERT_TRUE(Upload(std::string(60, 'a'), kAlice).ok());
  ASSERT_TRUE(Upload(std::string(40, 'b'), kAlice, "", 10, 40).ok());  // exactly 100
  // One byte more, announced: refused before its bytes come, naming size_bytes.
  absl::StatusOr<polytrain::v1::Artifact> announced = Upload("c", kAlice, "", 10, 1);
  ASSERT_EQ(announced.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(announced.status().message(),
            "size_bytes: the artifact's 1 byte would take client 'alice' past its storage quota "
            "of 100 bytes (the coordinator's --max_artifact_bytes_per_client): its artifacts "
            "hold 100 bytes; nothing stored: delete artifacts it no longer needs (polyctl "
            "artifacts lists them, polyctl artifacts delete ID)");
  // Not announced: refused as the byte comes, naming data.
  absl::StatusOr<polytrain::v1::Artifact> unannounced = Upload("c", kAlice);
  ASSERT_EQ(unannounced.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(unannounced.status().message()),
              StartsWith("data: the artifact's 1 byte "));
  EXPECT_FALSE(std::filesystem::exists(StoredFile(ArtifactIdOfHex(Sha256Hex("c")))));
  EXPECT_EQ(Listed(kAlice).size(), 2u);
  // An empty file fits any quota; other clients and admins are not held to alice's.
  EXPECT_TRUE(Upload("", kAlice).ok());
  EXPECT_TRUE(Upload(std::string(100, 'd'), kBob).ok());
  EXPECT_TRUE(Upload(std::string(200, 'e'), kAdmin).ok());
  EXPECT_FALSE(Upload("f", kBob).ok());
}

TEST_F(ArtifactQuotaTest, BytesOneHoldsCountOnceAndDeletingMakesRoom) {
  const std::string sixty(60, 'a');
  absl::StatusOr<polytrain::v1::Artifact> first = Upload(sixty, kAlice);
  ASSERT_TRUE(first.ok()) << first.status();
  // alice's own bytes again (the file checked, or here sent whole) add nothing.
  EXPECT_TRUE(Upload(sixty, kAlice).ok());
  EXPECT_TRUE(Upload(sixty, kAlice, "", 60, 60).ok());
  // bob holds a record of the same file: it counts for him (stored once on disk).
  ASSERT_TRUE(Upload(sixty, kBob).ok());
  EXPECT_EQ(List(kBob).total_bytes(), 60);
  EXPECT_EQ(Upload(std::string(50, 'b'), kAlice).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(Delete(first->id(), kAlice).ok());
  EXPECT_TRUE(Upload(std::string(50, 'b'), kAlice).ok());
  EXPECT_TRUE(Upload(std::string(50, 'c'), kAlice).ok());
  EXPECT_EQ(List(kAlice).total_bytes(), 100);
}

TEST_F(ArtifactQuotaTest, UploadsInFlightHoldWhatTheyAnnouncedOrSent) {
  // An announced size is held from the first chunk: a second upload that would not fit beside it
  // is refused at once, saying what is under way.
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> sixty =
      Begin(std::string(60, 'a'), kAlice, /*announce=*/true);
  ASSERT_TRUE(sixty.ok()) << sixty.status();
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> fifty =
      Begin(std::string(50, 'b'), kAlice, /*announce=*/true);
  ASSERT_EQ(fifty.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(fifty.status().message()),
              HasSubstr("its other uploads under way 60 bytes"));
  // Dropped unfinished, it gives its bytes back.
  sixty->reset();
  fifty = Begin(std::string(50, 'b'), kAlice, /*announce=*/true);
  ASSERT_TRUE(fifty.ok()) << fifty.status();
  fifty->reset();

  // Without a size, what each has sent is held.
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> a =
      Begin(std::string(60, 'a'), kAlice, /*announce=*/false);
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> b =
      Begin(std::string(50, 'b'), kAlice, /*announce=*/false);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Append(std::string(60, 'a')).ok());
  ASSERT_TRUE((*b)->Append(std::string(40, 'b')).ok());  // 100 held
  absl::Status past = (*b)->Append(std::string(10, 'b'));
  EXPECT_EQ(past.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(past.message()), StartsWith("data: "));
  EXPECT_TRUE((*a)->Finish().ok());
  EXPECT_EQ(List(kAlice).total_bytes(), 60);
}

TEST_F(ArtifactQuotaTest, TheStoreChecksTheRecordsAsTheyAreWhenTheFileIsKept) {
  // An upload without a size began when alice held nothing; another, announced, ends before it.
  // The first's reservation knew nothing of that one's record: its end counts it.
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> late =
      Begin(std::string(50, 'a'), kAlice, /*announce=*/false);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(Upload(std::string(60, 'b'), kAlice, "", 60, 60).ok());
  ASSERT_TRUE((*late)->Append(std::string(50, 'a')).ok());
  absl::StatusOr<polytrain::v1::Artifact> kept = (*late)->Finish();
  ASSERT_EQ(kept.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(kept.status().message()), HasSubstr("its artifacts hold 60 bytes"));
  late->reset();
  EXPECT_FALSE(
      std::filesystem::exists(StoredFile(ArtifactIdOfHex(Sha256Hex(std::string(50, 'a'))))));
  EXPECT_EQ(List(kAlice).total_records(), 1);
}

TEST_F(ArtifactQuotaTest, AQuotaLoweredBelowWhatIsHeldKeepsTheFilesUsable) {
  max_client_bytes_ = 1000;
  Open();
  absl::StatusOr<polytrain::v1::Artifact> model =
      Upload(testing::StoredModelZip("a model"), kAlice);
  ASSERT_TRUE(model.ok()) << model.status();
  max_client_bytes_ = 0;
  Open();
  EXPECT_TRUE(SubmitNaming(model->id(), kAlice).ok());
  EXPECT_EQ(Upload("x", kAlice).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Upload("", kAlice).ok());  // 0 bytes: still within any quota
  EXPECT_EQ(List(kAlice).quota_bytes(), 0);
}

TEST_F(ArtifactQuotaTest, ListingSaysWhatTheRecordsHoldOnEveryPage) {
  ASSERT_TRUE(Upload(std::string(30, 'a'), kAlice).ok());
  ASSERT_TRUE(Upload(std::string(20, 'b'), kAlice).ok());
  ASSERT_TRUE(Upload(std::string(70, 'c'), kBob).ok());
  for (const polytrain::v1::ListArtifactsResponse& page : {List(kAlice), List(kAlice, 1)}) {
    EXPECT_EQ(page.total_records(), 2);
    EXPECT_EQ(page.total_bytes(), 50);
    ASSERT_TRUE(page.has_quota_bytes());
    EXPECT_EQ(page.quota_bytes(), 100);
  }
  const polytrain::v1::ListArtifactsResponse everyone = List(kAdmin);
  EXPECT_EQ(everyone.total_records(), 3);
  EXPECT_EQ(everyone.total_bytes(), 120);
  EXPECT_FALSE(everyone.has_quota_bytes());
}

}  // namespace
}  // namespace polytrain
