#include "api/worker_messages.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(WorkerMessagesTest, ErrorsAreCutNeverRefused) {
  EXPECT_EQ(CutError("short"), "short");
  EXPECT_EQ(CutError(std::string(4096, 'x')).size(), 4096u);
  EXPECT_EQ(CutError(std::string(5000, 'x')), std::string(4096, 'x') + "... (cut)");
  polytrain::v1::WorkerMessage failed;
  failed.mutable_failed()->set_error(std::string(100000, 'x'));
  failed.mutable_failed()->set_attempt(1);
  EXPECT_TRUE(ValidateWorkerMessage(failed).ok());
}

TEST(WorkerMessagesTest, ArtifactNamesArePlainFileNames) {
  EXPECT_TRUE(ValidateArtifactName("name", "ckpt-000000000010.pt").ok());
  EXPECT_TRUE(ValidateArtifactName("name", std::string(128, 'a')).ok());
  EXPECT_EQ(ValidateArtifactName("name", std::string(129, 'a')).message(),
            "name: not a file name: '" + std::string(64, 'a') + "...' (129 characters)");
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "a b", "a\\b"}) {
    EXPECT_EQ(ValidateArtifactName("name", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateArtifactName("name", std::string("a\0z", 3)).message(),
            "name: not a file name: 'a\\x00z'");
}

TEST(WorkerMessagesTest, DownloadPathsAreQuotedShort) {
  polytrain::v1::DownloadArtifactRequest request;
  request.set_path(std::string(100000, 'p'));
  const absl::Status status = ValidateDownloadArtifactRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "path: expected <job_id>/<name>, got '" + std::string(64, 'p') +
                                  "...' (100000 characters)");
  request.set_path("job-1/../x");
  EXPECT_EQ(ValidateDownloadArtifactRequest(request).message(), "path: not a file name: '../x'");
  request.set_path("job-1/ckpt-1.pt");
  EXPECT_TRUE(ValidateDownloadArtifactRequest(request).ok());
}

TEST(WorkerMessagesTest, ChunksAreBounded) {
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id("job-1");
  chunk.set_name("ckpt-1.pt");
  chunk.set_data(std::string(1 << 20, 'd'));
  EXPECT_TRUE(ValidateArtifactChunk(chunk, true).ok());
  chunk.mutable_data()->push_back('d');
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).message(),
            "data: chunks are at most 1 MiB, got 1048577 bytes");
  chunk.clear_data();
  chunk.set_name("../up");
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).message(), "name: not a file name: '../up'");
  EXPECT_TRUE(ValidateArtifactChunk(chunk, false).ok());  // only the first chunk names the file
  chunk.set_last(true);
  chunk.set_size(-1);
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(),
            "size: must be in [0, 4294967296], got -1");
}

TEST(WorkerMessagesTest, RendezvousAddressesAreHostAndPort) {
  for (const char* good : {"127.0.0.1:1", "worker-3.example.org:65535", "[::1]:29500"}) {
    EXPECT_TRUE(ValidateRendezvousAddress("address", good).ok()) << good;
  }
  EXPECT_EQ(ValidateRendezvousAddress("address", "").message(),
            "address: length must be in [1, 256] characters, got 0");
  EXPECT_EQ(ValidateRendezvousAddress("address", std::string(251, 'h') + ":12345").message(),
            "address: length must be in [1, 256] characters, got 257");
  EXPECT_TRUE(ValidateRendezvousAddress("address", std::string(250, 'h') + ":12345").ok());
  EXPECT_EQ(ValidateRendezvousAddress("address", "hostonly").message(),
            "address: must be host:port");
  EXPECT_EQ(ValidateRendezvousAddress("address", ":80").message(), "address: must be host:port");
  for (const char* bad_port : {"h:0", "h:65536", "h:", "h:8o", "h:123456"}) {
    EXPECT_EQ(ValidateRendezvousAddress("address", bad_port).message(),
              "address: the port must be a number in [1, 65535]")
        << bad_port;
  }
  EXPECT_EQ(ValidateRendezvousAddress("address", "a b:80").message(),
            "address: the host uses only [A-Za-z0-9.:_[]-]");
  polytrain::v1::WorkerMessage ready;
  ready.mutable_rendezvous()->set_address("nope");
  EXPECT_EQ(ValidateWorkerMessage(ready).message(),
            "rendezvous.attempt: must be in [1, 2147483647], got 0");
  ready.mutable_rendezvous()->set_attempt(1);
  EXPECT_EQ(ValidateWorkerMessage(ready).message(), "rendezvous.address: must be host:port");
}

TEST(WorkerMessagesTest, AnEmptyMessageIsRefused) {
  EXPECT_EQ(ValidateWorkerMessage(polytrain::v1::WorkerMessage()).message(),
            "kind: empty worker message");
}

}  // namespace
}  // namespace polytrain
