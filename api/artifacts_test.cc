#include "api/artifacts.h"

#include <string>

#include "api/job_spec.h"
#include "api/worker_messages.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

const std::string kHex(64, 'a');

TEST(ArtifactsTest, IdsAreSha256InLowercaseHex) {
  EXPECT_TRUE(ValidateArtifactId("id", "sha256:" + kHex).ok());
  EXPECT_EQ(ArtifactHex("sha256:" + kHex), kHex);
  EXPECT_EQ(ArtifactIdOfHex(kHex), "sha256:" + kHex);
  for (const std::string& bad :
       {std::string(), kHex, "sha256:" + std::string(63, 'a'), "sha256:" + std::string(65, 'a'),
        "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a') + "g", "SHA256:" + kHex,
        "md5:" + kHex}) {
    EXPECT_EQ(ValidateArtifactId("id", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateArtifactId("spec.model.torchscript.artifact", "sha256:xyz").message(),
            "spec.model.torchscript.artifact: expected sha256:<64 lowercase hex digits>, got "
            "'sha256:xyz'");
}

TEST(ArtifactsTest, AnyFileNameBecomesAnAcceptableName) {
  EXPECT_EQ(ArtifactNameFor("resnet.pt"), "resnet.pt");
  EXPECT_EQ(ArtifactNameFor(".my model (v2).bin"), "my_model__v2_.bin");
  EXPECT_EQ(ArtifactNameFor("..."), "artifact");
  EXPECT_EQ(ArtifactNameFor(""), "artifact");
  EXPECT_EQ(ArtifactNameFor(std::string(300, 'x')).size(), 128u);
  for (const std::string& odd : {std::string("a b"), std::string("ü.pt"), std::string("..hidden"),
                                 std::string("x/y"), std::string(200, '.')}) {
    EXPECT_TRUE(ValidateArtifactName("name", ArtifactNameFor(odd)).ok()) << odd;
  }
}

TEST(ArtifactsTest, FirstChunkNamesTheArtifactAndTheRestCarryDataOnly) {
  polytrain::v1::UploadArtifactRequest chunk;
  chunk.set_name("model.pt");
  chunk.set_sha256("sha256:" + kHex);
  EXPECT_TRUE(ValidateUploadArtifactRequest(chunk, /*first=*/true).ok());
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/false).message(),
            "name: set on the first chunk only");
  chunk.clear_name();
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/true).message(),
            "name: not a file name: ''");
  chunk.set_name("../etc/passwd");
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/true).code(),
            absl::StatusCode::kInvalidArgument);
  chunk.set_name("model.pt");
  chunk.set_sha256("sha256:" + kHex.substr(1));
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/true).code(),
            absl::StatusCode::kInvalidArgument);

  polytrain::v1::UploadArtifactRequest later;
  later.set_data(std::string(size_t{1} << 20, 'x'));  // the edge: exactly 1 MiB
  EXPECT_TRUE(ValidateUploadArtifactRequest(later, /*first=*/false).ok());
  later.mutable_data()->push_back('x');
  EXPECT_EQ(ValidateUploadArtifactRequest(later, /*first=*/false).message(),
            "data: chunks are at most 1 MiB, got 1048577 bytes");
  later.clear_data();
  later.set_sha256("sha256:" + kHex);
  EXPECT_EQ(ValidateUploadArtifactRequest(later, /*first=*/false).message(),
            "sha256: set on the first chunk only");
  later.clear_sha256();
  later.set_size_bytes(0);  // set, even to 0
  EXPECT_EQ(ValidateUploadArtifactRequest(later, /*first=*/false).message(),
            "size_bytes: set on the first chunk only");
}

TEST(ArtifactsTest, AnAnnouncedSizeIsAFilesSize) {
  polytrain::v1::UploadArtifactRequest chunk;
  chunk.set_name("model.pt");
  chunk.set_sha256("sha256:" + kHex);
  for (int64_t size : {int64_t{0}, int64_t{1} << 62}) {
    chunk.set_size_bytes(size);
    EXPECT_TRUE(ValidateUploadArtifactRequest(chunk, /*first=*/true).ok()) << size;
  }
  chunk.set_size_bytes(-1);
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/true).message(),
            "size_bytes: must be in [0, 4611686018427387904], got -1");
  chunk.set_size_bytes((int64_t{1} << 62) + 1);
  EXPECT_EQ(ValidateUploadArtifactRequest(chunk, /*first=*/true).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArtifactsTest, ListAndDeleteRequests) {
  polytrain::v1::ListArtifactsRequest list;
  list.set_page_size(1000);
  EXPECT_TRUE(ValidateListArtifactsRequest(list).ok());
  list.set_page_size(1001);
  EXPECT_EQ(ValidateListArtifactsRequest(list).message(),
            "page_size: must be in [0, 1000], got 1001");
  polytrain::v1::DeleteArtifactRequest del;
  EXPECT_EQ(ValidateDeleteArtifactRequest(del).code(), absl::StatusCode::kInvalidArgument);
  del.set_id("sha256:" + kHex);
  EXPECT_TRUE(ValidateDeleteArtifactRequest(del).ok());
}

TEST(ArtifactsTest, SpecsNameArtifactsByField) {
  polytrain::v1::JobSpec spec;
  EXPECT_TRUE(ArtifactsNamedBy(spec).empty());
  spec.mutable_model()->mutable_torchscript()->set_path("model.pt");
  spec.mutable_dataset()->mutable_tensors()->set_artifact("sha256:" + kHex);
  std::vector<NamedArtifact> named = ArtifactsNamedBy(spec);
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].field, "spec.dataset.tensors.artifact");
  spec.mutable_model()->mutable_torchscript()->set_artifact("sha256:" + std::string(64, 'b'));
  named = ArtifactsNamedBy(spec, "base");
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].field, "base.model.torchscript.artifact");
  EXPECT_EQ(named[0].id, "sha256:" + std::string(64, 'b'));
}

TEST(ArtifactsTest, JobSpecChecksEitherSource) {
  polytrain::v1::JobSpec spec;
  spec.set_name("byo");
  spec.mutable_model()->mutable_torchscript();
  spec.mutable_dataset()->mutable_tensors()->set_path("data.pt");
  EXPECT_EQ(ValidateJobSpec(spec).message(), "spec.model.torchscript.path: set path or artifact");
  spec.mutable_model()->mutable_torchscript()->set_artifact("sha256:nothex");
  EXPECT_EQ(ValidateJobSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ValidateJobSpec(spec).message().find("spec.model.torchscript.artifact"),
            std::string::npos);
  spec.mutable_model()->mutable_torchscript()->set_artifact("sha256:" + kHex);
  spec.mutable_dataset()->mutable_tensors()->set_artifact("");
  EXPECT_NE(ValidateJobSpec(spec).message().find("spec.dataset.tensors.artifact"),
            std::string::npos);
}

}  // namespace
}  // namespace polytrain
