// Users' artifacts through the coordinator's core: uploads checked against their hash and size,
// records per uploader in a real SQLite file, submissions that name artifacts, and deletion that
// never takes a file from under a queued job.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/artifact_catalog_fixture.h"
#include "sqlite3.h"
#include "testing/zip_archive.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::Artifact;

TEST_F(ArtifactCatalogTest, AnUploadIsStoredOnceUnderItsHash) {
  const std::string content = "a TorchScript archive, say";
  absl::StatusOr<Artifact> first = Upload(content, kAlice);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id(), ArtifactIdOfHex(Sha256Hex(content)));
  EXPECT_EQ(first->size_bytes(), static_cast<int64_t>(content.size()));
  EXPECT_EQ(first->owner(), "alice");
  EXPECT_TRUE(first->has_create_time());
  std::ifstream in(StoredFile(first->id()), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), content);

  // Again by alice: the same record. By bob: a record of his own, one file.
  absl::StatusOr<Artifact> again = Upload(content, kAlice, "", 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->create_time().nanos(), first->create_time().nanos());
  ASSERT_TRUE(Upload(content, kBob).ok());
  EXPECT_EQ(Listed(kAlice), (std::vector<std::string>{"alice 26 0"}));
  EXPECT_EQ(Listed(kAdmin), (std::vector<std::string>{"bob 26 0", "alice 26 0"}));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "artifacts" / "sha256")) {
    files += entry.is_regular_file();
  }
  EXPECT_EQ(files, 1u);

  // Records live in the database: a restarted coordinator still has them.
  Open();
  EXPECT_EQ(Listed(kAlice), (std::vector<std::string>{"alice 26 0"}));

  // A stored file damaged on disk (same size) is not taken as uploaded: the owner's upload of
  // the same bytes repairs it.
  {
    std::fstream damage(StoredFile(first->id()), std::ios::in | std::ios::out | std::ios::binary);
    damage.seekp(3);
    damage.put('X');
  }
  absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
  ASSERT_TRUE(catalog.ok());
  polytrain::v1::UploadArtifactRequest header;
  header.set_name("model.pt");
  header.set_sha256(first->id());
  EXPECT_FALSE((*catalog)->AlreadyUploaded(header, kAlice)->has_value());
  ASSERT_TRUE(Upload(content, kAlice).ok());
  std::ifstream repaired(StoredFile(first->id()), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(repaired), {}), content);
  EXPECT_TRUE((*catalog)->AlreadyUploaded(header, kAlice)->has_value());
}

TEST_F(ArtifactCatalogTest, AWrongHashOrTooManyBytesStoresNothing) {
  const std::string other = ArtifactIdOfHex(Sha256Hex("something else"));
  absl::StatusOr<Artifact> lied = Upload("the bytes", kAlice, other);
  EXPECT_EQ(lied.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(lied.status().message().find("not " + other), std::string::npos);
  EXPECT_FALSE(fs::exists(StoredFile(other)));
  EXPECT_TRUE(Listed(kAlice).empty());

  // The limit is 256 bytes here: 256 pass, 257 do not.
  EXPECT_TRUE(Upload(std::string(256, 'x'), kAlice).ok());
  absl::StatusOr<Artifact> big = Upload(std::string(257, 'y'), kAlice);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(big.status().message(),
            "data: the artifact is larger than this coordinator's --max_artifact_bytes (256 "
            "bytes)");
  EXPECT_FALSE(fs::exists(StoredFile(ArtifactIdOfHex(Sha256Hex(std::string(257, 'y'))))));
  // No temporary file is left behind by either.
  for (const auto& entry : fs::directory_iterator(dir_ / "artifacts" / "sha256")) {
    EXPECT_EQ(entry.path().filename().string().find(".upload-"), std::string::npos) << entry.path();
  }
}

// A size announced in the first chunk refuses a file past the limit before its bytes come (probe
// CI: a 2 GiB + 1 file was refused after 21 s of sending), and the stream must match it.
TEST_F(ArtifactCatalogTest, AnAnnouncedSizeIsHeldToTheLimitAndToTheBytesSent) {
  const std::string big(257, 'y');
  polytrain::v1::UploadArtifactRequest first;
  first.set_name("big.pt");
  first.set_sha256(ArtifactIdOfHex(Sha256Hex(big)));
  first.set_size_bytes(257);
  absl::StatusOr<ArtifactCatalog*> catalog = api_->Artifacts();
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ((*catalog)->BeginUpload(first, kAlice).status(),
            absl::InvalidArgumentError(
                "size_bytes: the artifact is 257 bytes, larger than this coordinator's "
                "--max_artifact_bytes (256 bytes); nothing sent"));
  first.set_size_bytes(256);  // at the limit: begun (and then held to what it announced)
  EXPECT_TRUE((*catalog)->BeginUpload(first, kAlice).ok());

  EXPECT_EQ(Upload("123456", kAlice, "", 10, 5).status(),
            absl::InvalidArgumentError(
                "size_bytes: the stream carries more than the 5 bytes announced; nothing stored"));
  EXPECT_EQ(Upload("123456", kAlice, "", 4, 7).status(),
            absl::InvalidArgumentError(
                "size_bytes: the stream carried 6 bytes, not the 7 announced; nothing stored"));
  EXPECT_TRUE(Listed(kAlice).empty());
  EXPECT_FALSE(fs::exists(StoredFile(ArtifactIdOfHex(Sha256Hex("123456")))));

  absl::StatusOr<Artifact> stored = Upload("123456", kAlice, "", 4, 6);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->size_bytes(), 6);
  EXPECT_TRUE(Upload("", kAlice, "", 4, 0).ok());  // an empty file, announced as such
  // A stored file is answered only for its own size.
  first.set_sha256(stored->id());
  first.set_size_bytes(7);
  EXPECT_EQ(
      (*catalog)->AlreadyUploaded(first, kAlice).status(),
      absl::InvalidArgumentError("size_bytes: the file of " + stored->id() + " is 6 bytes, not 7"));
  first.set_size_bytes(6);
  EXPECT_TRUE((*catalog)->AlreadyUploaded(first, kAlice)->has_value());
}

// A record that cannot be stored (a trigger refuses it here, as a full --db disk does) leaves no
// file behind: one that no record names could never be listed or deleted (probe CG). Bytes that
// another record names stay.
TEST_F(ArtifactCatalogTest, ARecordNotStoredLeavesNoFileOfItsOwn) {
  ASSERT_TRUE(Upload("kept bytes", kAlice).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "db").string().c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER full BEFORE INSERT ON artifacts BEGIN "
                         "SELECT RAISE(FAIL, 'database or disk is full'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_FALSE(Upload("refused bytes", kAlice).ok());
  EXPECT_FALSE(fs::exists(StoredFile(ArtifactIdOfHex(Sha256Hex("refused bytes")))));
  EXPECT_FALSE(Upload("kept bytes", kBob).ok());
  EXPECT_TRUE(fs::exists(StoredFile(ArtifactIdOfHex(Sha256Hex("kept bytes")))));
  EXPECT_EQ(Listed(kAlice).size(), 1u);
}

TEST_F(ArtifactCatalogTest, AClientsJobsNameOnlyItsOwnArtifacts) {
  absl::StatusOr<Artifact> alices = Upload(testing::StoredModelZip("alice's model"), kAlice);
  ASSERT_TRUE(alices.ok());
  absl::StatusOr<polytrain::v1::Job> by_bob = SubmitNaming(alices->id(), kBob);
  EXPECT_EQ(by_bob.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(by_bob.status().message(),
            absl::StrCat("spec.model.torchscript.artifact: no artifact ", alices->id(),
                         " of yours is stored; upload it first (polyctl upload)"));
  EXPECT_TRUE(SubmitNaming(alices->id(), kAlice).ok());
  EXPECT_TRUE(SubmitNaming(alices->id(), kAdmin).ok());  // an admin may name any
  const std::string never = ArtifactIdOfHex(std::string(64, '0'));
  EXPECT_EQ(SubmitNaming(never, kAdmin).status().code(), absl::StatusCode::kNotFound);

  // A sweep names its base's fields.
  polytrain::v1::SubmitSweepRequest sweep;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(base {
           name: "byo"
           model { torchscript { path: "model.pt" } }
           dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
           optimizer { sgd {} learning_rate: 0.1 }
           epochs: 1
           batch_size: 2
         }
         losses { cross_entropy {} }
         losses { poly1 { epsilon: 1 } })",
      &sweep));
  sweep.mutable_base()->mutable_model()->mutable_torchscript()->set_artifact(alices->id());
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> swept = api_->SubmitSweep(sweep, kBob);
  EXPECT_EQ(swept.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(swept.status().message().find("base.model.torchscript.artifact"), std::string::npos);
  swept = api_->SubmitSweep(sweep, kAlice);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->jobs_size(), 2);
  EXPECT_EQ(Listed(kAlice), (std::vector<std::string>{"alice 227 3"}));
}

// A file no worker could load (not a zip archive, as torch.jit.save and torch.save write) is
// refused when a job names it, naming the field and the upload, and no job is stored: before,
// the job was queued, assigned and failed on the worker.
TEST_F(ArtifactCatalogTest, AJobNamingAFileThatIsNoModelIsRefusedAtSubmit) {
  for (const std::string& content : {std::string("a pickle, not a model"), std::string()}) {
    absl::StatusOr<Artifact> junk = Upload(content, kAlice);
    ASSERT_TRUE(junk.ok()) << junk.status();
    absl::StatusOr<polytrain::v1::Job> job = SubmitNaming(junk->id(), kAlice);
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message().rfind(
                  "spec.model.torchscript.artifact ('model.pt'): not a TorchScript file "
                  "(torch.jit.save): ",
                  0),
              0u)
        << job.status();
  }
  // A dataset is a torch.save file; its legacy format is named as such.
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19 a pickle", 24);
  absl::StatusOr<Artifact> old = Upload(legacy, kAlice);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(SubmitNaming(old->id(), kAlice, /*as_dataset=*/true).status().message(),
            "spec.dataset.tensors.artifact ('model.pt'): torch.save's legacy format (before torch "
            "1.6, or _use_new_zipfile_serialization=False); save it again with torch.save and the "
            "default zip format");
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 0);
  absl::StatusOr<Artifact> archive = Upload(testing::StoredModelZip("a model"), kAlice);
  ASSERT_TRUE(archive.ok());
  EXPECT_TRUE(SubmitNaming(archive->id(), kAlice).ok());
  // The model named as the dataset is said to be one at submit, not by a worker's LibTorch.
  EXPECT_EQ(SubmitNaming(archive->id(), kAlice, /*as_dataset=*/true).status().message(),
            "spec.dataset.tensors.artifact ('model.pt'): not a file torch.save wrote: a "
            "TorchScript module (torch.jit.save); the tensors file is a dict of tensors saved with "
            "torch.save({\"train_x\": ..., ...})");
}

TEST_F(ArtifactCatalogTest, DeletingWaitsForActiveJobsAndTheFileGoesWithTheLastRecord) {
  absl::StatusOr<Artifact> stored = Upload(testing::StoredModelZip("shared bytes"), kAlice);
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(Upload(testing::StoredModelZip("shared bytes"), kBob).ok());
  absl::StatusOr<polytrain::v1::Job> job = SubmitNaming(stored->id(), kAlice);
  ASSERT_TRUE(job.ok());

  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> refused = Delete(stored->id(), kAlice);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("id: 1 queued or running job(s) name ", stored->id(),
                         "; cancel them or wait for them to end"));
  // Bob's record goes (his jobs do not name it); the file stays for alice.
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> bobs = Delete(stored->id(), kBob);
  ASSERT_TRUE(bobs.ok()) << bobs.status();
  EXPECT_EQ(bobs->deleted_size(), 1);
  EXPECT_FALSE(bobs->file_deleted());
  EXPECT_TRUE(fs::exists(StoredFile(stored->id())));
  EXPECT_EQ(Delete(stored->id(), kBob).status().code(), absl::StatusCode::kNotFound);

  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job->id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAlice).ok());
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> alices = Delete(stored->id(), kAlice);
  ASSERT_TRUE(alices.ok()) << alices.status();
  EXPECT_FALSE(alices->file_deleted());  // a client is not told (see the proto)
  EXPECT_FALSE(fs::exists(StoredFile(stored->id())));
  // Nothing names it now: a new job naming it is refused.
  EXPECT_EQ(SubmitNaming(stored->id(), kAlice).status().code(), absl::StatusCode::kNotFound);
}

// A retry is answered with the job its first call stored, as a sweep's is, though the artifact
// it names was deleted since (probe CV: SubmitJob's retry was NOT_FOUND where SubmitSweep's
// returned the sweep); a new request naming it is refused.
TEST_F(ArtifactCatalogTest, ARetryIsAnsweredWithItsJobAfterItsArtifactIsDeleted) {
  absl::StatusOr<Artifact> stored = Upload(testing::StoredModelZip("deleted after"), kAlice);
  ASSERT_TRUE(stored.ok());
  absl::StatusOr<polytrain::v1::Job> job = SubmitNaming(stored->id(), kAlice, false, "r1");
  ASSERT_TRUE(job.ok()) << job.status();
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job->id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAlice).ok());
  ASSERT_TRUE(Delete(stored->id(), kAlice).ok());
  ASSERT_FALSE(fs::exists(StoredFile(stored->id())));
  for (const bool validate_only : {false, true}) {
    absl::StatusOr<polytrain::v1::Job> retry =
        SubmitNaming(stored->id(), kAlice, false, "r1", validate_only);
    ASSERT_TRUE(retry.ok()) << retry.status();
    EXPECT_EQ(retry->id(), job->id());
    EXPECT_EQ(retry->state(), polytrain::v1::JOB_STATE_CANCELLED);
  }
  EXPECT_EQ(SubmitNaming(stored->id(), kAlice, false, "r2").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ArtifactCatalogTest, TheLastRecordStaysWhileAnyonesJobNamesIt) {
  absl::StatusOr<Artifact> stored =
      Upload(testing::StoredModelZip("used by an admin's job"), kAlice);
  ASSERT_TRUE(stored.ok());
  absl::StatusOr<polytrain::v1::Job> job = SubmitNaming(stored->id(), kAdmin);
  ASSERT_TRUE(job.ok());
  // Alice's record is the only one: deleting it would strand the file.
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> refused = Delete(stored->id(), kAlice);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("id: a queued or running job names ", stored->id(),
                         "; it can be deleted once that job ends"));
  EXPECT_TRUE(fs::exists(StoredFile(stored->id())));
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(job->id());
  ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
  ASSERT_TRUE(Delete(stored->id(), kAlice).ok());
  EXPECT_FALSE(fs::exists(StoredFile(stored->id())));
}

TEST_F(ArtifactCatalogTest, ACallerHasAtMostFourUploadsInFlight) {
  ArtifactCatalog* catalog = *api_->Artifacts();
  auto begin = [&](const Caller& caller, int i) {
    polytrain::v1::UploadArtifactRequest first;
    first.set_name("f");
    first.set_sha256(ArtifactIdOfHex(Sha256Hex(absl::StrCat(caller.name, i))));
    return catalog->BeginUpload(first, caller);
  };
  std::vector<std::unique_ptr<ArtifactCatalog::Upload>> open;
  for (int i = 0; i < kMaxConcurrentUploads; ++i) {
    absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> upload = begin(kAlice, i);
    ASSERT_TRUE(upload.ok()) << upload.status();
    open.push_back(*std::move(upload));
  }
  absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> fifth = begin(kAlice, 99);
  EXPECT_EQ(fifth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(fifth.status().message(),
            "at most 4 uploads at once per caller (a fixed limit); wait for one to end");
  EXPECT_TRUE(begin(kBob, 0).ok());  // others are not held up
  open.pop_back();                   // one ends (dropped: nothing stored)
  EXPECT_TRUE(begin(kAlice, 100).ok());
}

TEST_F(ArtifactCatalogTest, CheckingAStoredFileTakesAnUploadSlotAndHappensOncePerChange) {
  const std::string content(250, 'c');  // the fixture's coordinator stores at most 256 bytes
  absl::StatusOr<Artifact> stored = Upload(content, kAlice);
  ASSERT_TRUE(stored.ok()) << stored.status();
  Open();  // a fresh coordinator has checked nothing yet
  ArtifactCatalog* catalog = *api_->Artifacts();
  polytrain::v1::UploadArtifactRequest header;
  header.set_name("model.pt");
  header.set_sha256(stored->id());
  auto hold_every_slot = [&] {
    std::vector<std::unique_ptr<ArtifactCatalog::Upload>> open;
    for (int i = 0; i < kMaxConcurrentUploads; ++i) {
      polytrain::v1::UploadArtifactRequest first;
      first.set_name("f");
      first.set_sha256(ArtifactIdOfHex(Sha256Hex(absl::StrCat("held", i))));
      open.push_back(*catalog->BeginUpload(first, kAlice));
    }
    return open;
  };
  {
    // Reading the stored file is an upload's work: it counts against the caller's uploads.
    auto open = hold_every_slot();
    EXPECT_EQ(catalog->AlreadyUploaded(header, kAlice).status().code(),
              absl::StatusCode::kResourceExhausted);
  }
  ASSERT_TRUE(catalog->AlreadyUploaded(header, kAlice)->has_value());
  {
    // Checked once, and unchanged since: answered without reading it (or a slot).
    auto open = hold_every_slot();
    EXPECT_TRUE(catalog->AlreadyUploaded(header, kAlice)->has_value());
  }
  // Changed since (damaged in place, later): read again, and no longer taken as uploaded.
  {
    std::fstream damage(StoredFile(stored->id()), std::ios::in | std::ios::out | std::ios::binary);
    damage.seekp(10);
    damage.put('X');
  }
  fs::last_write_time(StoredFile(stored->id()),
                      fs::last_write_time(StoredFile(stored->id())) + std::chrono::seconds(1));
  EXPECT_FALSE(catalog->AlreadyUploaded(header, kAlice)->has_value());
}

TEST_F(ArtifactCatalogTest, AnAdminDeletesEveryRecordOfAnArtifact) {
  absl::StatusOr<Artifact> stored = Upload("bytes", kAlice);
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(Upload("bytes", kBob).ok());
  absl::StatusOr<polytrain::v1::DeleteArtifactResponse> deleted = Delete(stored->id(), kAdmin);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted_size(), 2);
  EXPECT_TRUE(deleted->file_deleted());
  EXPECT_TRUE(Listed(kAdmin).empty());
}

TEST_F(ArtifactCatalogTest, ListingPages) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Upload(absl::StrCat("file ", i), kAlice).ok());
  polytrain::v1::ListArtifactsRequest request;
  request.set_page_size(2);
  std::vector<int64_t> pages;
  std::string token;
  do {
    request.set_page_token(token);
    absl::StatusOr<polytrain::v1::ListArtifactsResponse> page =
        api_->ListArtifacts(request, kAlice);
    ASSERT_TRUE(page.ok()) << page.status();
    pages.push_back(page->artifacts_size());
    token = page->next_page_token();
  } while (!token.empty());
  EXPECT_EQ(pages, (std::vector<int64_t>{2, 2, 1}));
  request.set_page_token("not-a-token");
  EXPECT_EQ(api_->ListArtifacts(request, kAlice).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Alice's token pages only alice's listing.
  request.set_page_token("");
  absl::StatusOr<polytrain::v1::ListArtifactsResponse> first = api_->ListArtifacts(request, kAlice);
  ASSERT_TRUE(first.ok());
  request.set_page_token(first->next_page_token());
  EXPECT_TRUE(api_->ListArtifacts(request, kAlice).ok());
  EXPECT_EQ(api_->ListArtifacts(request, kBob).status().message().substr(0, 47),
            "page_token: a token of another ListArtifacts (o");
}

TEST_F(ArtifactCatalogTest, WithoutAnArtifactStoreEveryArtifactRequestIsRefused) {
  core_.reset();
  Scheduler::Options options;
  options.lease_thread = false;
  core_ = *CoordinatorCore::Open(":memory:", options);
  api_ = &core_->client_api();
  EXPECT_EQ(Upload("x", kAlice).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SubmitNaming(ArtifactIdOfHex(std::string(64, '1')), kAlice).status().message(),
            "spec.model.torchscript.artifact: this coordinator stores no artifacts");
}

}  // namespace
}  // namespace polytrain
