#include "api/worker_messages.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(WorkerMessagesTest, ErrorsAreCutNeverRefused) {
  EXPECT_EQ(CutError("short"), "short");
  EXPECT_EQ(CutError(std::string(4096, 'x')).size(), 4096u);
  EXPECT_EQ(CutError(std::string(5000, 'x')), std::string(4096, 'x') + "... (cut)");
  // Cut between characters, never inside one: a message of 2-byte characters past the limit
  // keeps 4095 bytes. Bytes that are not UTF-8 become U+FFFD, so the error can go into a message.
  std::string accents = "a";
  for (int i = 0; i < 3000; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(CutError(accents), accents.substr(0, 4095) + "... (cut)");
  EXPECT_EQ(CutError("bad \xFF byte"), "bad \xEF\xBF\xBD byte");
  // Control characters act on a terminal or a log: written out, but a line break and a tab.
  EXPECT_EQ(CutError(std::string("a\0b\x1b[31mc\rd\x7f\ne\tf", 16)),
            "a\\x00b\\x1b[31mc\\x0dd\\x7f\ne\tf");
  polytrain::v1::WorkerMessage failed;
  failed.mutable_failed()->set_error(std::string(100000, 'x'));
  failed.mutable_failed()->set_job_id("job-0123456789ab");
  failed.mutable_failed()->set_attempt(1);
  EXPECT_TRUE(ValidateWorkerMessage(failed).ok());
}

TEST(WorkerMessagesTest, ArtifactNamesArePlainFileNames) {
  EXPECT_TRUE(ValidateArtifactName("name", "ckpt-000000000010.pt").ok());
  EXPECT_TRUE(ValidateArtifactName("name", std::string(128, 'a')).ok());
  EXPECT_EQ(ValidateArtifactName("name", std::string(129, 'a')).message(),
            "name: length must be in [1, 128] characters, got 129");
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "a b", "a\\b"}) {
    EXPECT_EQ(ValidateArtifactName("name", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateArtifactName("name", std::string("a\0z", 3)).message(),
            "name: not a file name: 'a\\x00z'");
}

TEST(WorkerMessagesTest, UploadedNamesAreNeverTemporaryFilesAndCheckpointsSortByStep) {
  EXPECT_TRUE(ValidateUploadedName("name", "ckpt-000000000010.pt").ok());
  EXPECT_TRUE(ValidateUploadedName("name", "model.pt").ok());
  EXPECT_EQ(ValidateUploadedName("name", "ckpt-1.upload-abc").message(),
            "name: must not contain '.upload-', got 'ckpt-1.upload-abc'");
  for (const char* bad : {"ckpt-1.pt", "ckpt-zzzzzzzzzzzz.pt", "ckpt-0000000000100.pt",
                          "ckpt-000000000010.pth", "ckpt-"}) {
    EXPECT_EQ(ValidateUploadedName("name", bad).message(),
              absl::StrCat("name: a checkpoint is named ckpt-<12 digits>.pt, got '", bad, "'"));
  }
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id("job-1");
  chunk.set_name("ckpt-zzzz");
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).code(), absl::StatusCode::kInvalidArgument);
  chunk.set_name("ckpt-000000000010.pt");
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).message(),
            "attempt: must be in [1, 2147483647], got 0");
  chunk.set_attempt(1);
  EXPECT_TRUE(ValidateArtifactChunk(chunk, true).ok());
}

TEST(WorkerMessagesTest, AValuesNameHoldsNoControlCharacter) {
  polytrain::v1::WorkerMessage message;
  polytrain::v1::JobFinished& finished = *message.mutable_finished();
  finished.set_job_id("job-0123456789ab");
  finished.set_attempt(1);
  finished.set_steps(1);
  (*finished.mutable_final_metrics())["eval_class_accuracy/3 \xc2\xa0"] = 0.5;  // NBSP: fine
  EXPECT_TRUE(ValidateWorkerMessage(message).ok());
  finished.mutable_final_metrics()->clear();
  (*finished.mutable_final_metrics())["x\x1b[2J"] = 0.5;
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.final_metrics[x\\x1b[2J]: a value's name must not hold a control "
            "character (at byte offset 1)");
  finished.mutable_final_metrics()->clear();
  (*finished.mutable_final_metrics())["x\xc2\x9b"] = 0.5;  // C1 CSI
  EXPECT_FALSE(ValidateWorkerMessage(message).ok());
}

TEST(WorkerMessagesTest, AChunkCarriesTheFilesSizeAndCrcOnlyWhenMarkedLast) {
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_data("abc");
  chunk.set_size(3);
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(),
            "size: set on the last chunk only (the one with last: true)");
  chunk.set_size(0);
  chunk.set_crc32(7);
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(),
            "crc32: set on the last chunk only (the one with last: true)");
  chunk.set_last(true);
  chunk.set_size(3);
  EXPECT_TRUE(ValidateArtifactChunk(chunk, false).ok());
}

TEST(WorkerMessagesTest, ResultsAndPointsAreChecked) {
  polytrain::v1::WorkerMessage message;
  polytrain::v1::JobFinished& finished = *message.mutable_finished();
  finished.set_job_id("job-0123456789ab");
  finished.set_attempt(1);
  finished.set_steps(100);
  finished.set_resumed_from_step(100);
  finished.set_seconds(0);
  EXPECT_TRUE(ValidateWorkerMessage(message).ok());
  finished.set_steps(-7);
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.steps: must be in [0, 1000000000], got -7");
  finished.set_steps(100);
  finished.set_resumed_from_step(101);
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.resumed_from_step: must be in [0, 100], got 101");
  finished.set_resumed_from_step(0);
  finished.set_seconds(std::nan(""));
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.seconds: must be in [0, 1e9], got nan");
  finished.set_seconds(1e9 + 1);
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.seconds: must be in [0, 1e9], got 1000000001");
  finished.set_seconds(1e9);
  EXPECT_TRUE(ValidateWorkerMessage(message).ok());
  finished.set_seconds(1);
  (*finished.mutable_final_metrics())["eval_loss"] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ValidateWorkerMessage(message).message(),
            "finished.final_metrics[eval_loss]: must be finite, got inf");
  (*finished.mutable_final_metrics())["eval_loss"] = -0.5;  // a polynomial's loss may be < 0
  EXPECT_TRUE(ValidateWorkerMessage(message).ok());
  // Values whose names say what they are, at their edges.
  for (const char* fraction : {"eval_accuracy", "val_class_accuracy/3", "eval_ece", "eval_f1",
                               "val_exact_match", "accuracy"}) {
    for (const double inside : {0.0, 1.0}) {
      (*finished.mutable_final_metrics())[fraction] = inside;
      EXPECT_TRUE(ValidateWorkerMessage(message).ok()) << fraction << " " << inside;
    }
    for (const double outside : {-1e-9, 1 + 1e-9, 1e300}) {
      (*finished.mutable_final_metrics())[fraction] = outside;
      EXPECT_EQ(ValidateWorkerMessage(message).message(),
                absl::StrCat("finished.final_metrics[", fraction,
                             "]: must be a fraction in [0, 1], got ", ExactNumber(outside)));
    }
    finished.mutable_final_metrics()->erase(fraction);
  }
  for (const char* measure : {"eval_nll", "learning_rate", "grad_norm", "gpu_memory_peak_bytes"}) {
    (*finished.mutable_final_metrics())[measure] = 0;
    EXPECT_TRUE(ValidateWorkerMessage(message).ok()) << measure;
    (*finished.mutable_final_metrics())[measure] = -1e-300;
    EXPECT_EQ(ValidateWorkerMessage(message).message(),
              absl::StrCat("finished.final_metrics[", measure, "]: must be >= 0, got -1e-300"));
    finished.mutable_final_metrics()->erase(measure);
  }
  for (const char* unknown : {"accuracy_of_mine", "accuracy/top5", "eval_nll/x"}) {
    (*finished.mutable_final_metrics())[unknown] = 7;  // names of no known meaning
    EXPECT_TRUE(ValidateWorkerMessage(message).ok()) << unknown;
  }

  polytrain::v1::WorkerMessage metrics;
  metrics.mutable_metrics()->set_job_id("job-0123456789ab");
  metrics.mutable_metrics()->set_attempt(1);
  polytrain::v1::MetricPoint* point = metrics.mutable_metrics()->add_points();
  point->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
  point->set_step(3);
  EXPECT_TRUE(ValidateWorkerMessage(metrics).ok());
  point->set_kind(static_cast<polytrain::v1::MetricPoint::Kind>(7));
  EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
            "metrics.points[0].kind: must be KIND_TRAIN or KIND_EVAL, got 7");
  point->set_kind(polytrain::v1::MetricPoint::KIND_UNSPECIFIED);
  EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
            "metrics.points[0].kind: must be KIND_TRAIN or KIND_EVAL, got 0");
  point->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  for (const double progress : {std::nan(""), -0.5, 1.5, 1e300}) {
    point->set_epoch_progress(progress);
    EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
              absl::StrCat("metrics.points[0].epoch_progress: must be in [0, 1], got ", progress));
  }
  for (const double progress : {0.0, 1.0}) {
    point->set_epoch_progress(progress);
    EXPECT_TRUE(ValidateWorkerMessage(metrics).ok());
  }
  point->set_epoch(-1);
  EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
            "metrics.points[0].epoch: must be in [0, 1000000000], got -1");
  point->set_epoch(0);
  point->set_elapsed_seconds(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
            "metrics.points[0].elapsed_seconds: must be in [0, 1e9], got -inf");
  point->set_elapsed_seconds(1);
  // A point may show a diverged run (NaN, infinities); a finite value out of its range is not.
  (*point->mutable_values())["grad_norm"] = std::numeric_limits<double>::infinity();
  (*point->mutable_values())["accuracy"] = std::nan("");
  EXPECT_TRUE(ValidateWorkerMessage(metrics).ok());
  (*point->mutable_values())["accuracy"] = 2;
  EXPECT_EQ(ValidateWorkerMessage(metrics).message(),
            "metrics.points[0].values[accuracy]: must be a fraction in [0, 1], got 2");
}

TEST(WorkerMessagesTest, EveryReportNamesAWellFormedJobId) {
  polytrain::v1::WorkerMessage metrics, started, finished, failed, rendezvous;
  metrics.mutable_metrics()->set_attempt(1);
  started.mutable_started()->set_attempt(1);
  finished.mutable_finished()->set_attempt(1);
  failed.mutable_failed()->set_attempt(1);
  rendezvous.mutable_rendezvous()->set_attempt(1);
  rendezvous.mutable_rendezvous()->set_address("127.0.0.1:29500");
  for (const char* id : {"a b", ""}) {
    metrics.mutable_metrics()->set_job_id(id);
    EXPECT_NE(ValidateWorkerMessage(metrics).message().find("metrics.job_id: "), std::string::npos)
        << id;
    started.mutable_started()->set_job_id(id);
    EXPECT_NE(ValidateWorkerMessage(started).message().find("started.job_id: "), std::string::npos);
    finished.mutable_finished()->set_job_id(id);
    EXPECT_NE(ValidateWorkerMessage(finished).message().find("finished.job_id: "),
              std::string::npos);
    failed.mutable_failed()->set_job_id(id);
    EXPECT_NE(ValidateWorkerMessage(failed).message().find("failed.job_id: "), std::string::npos);
    rendezvous.mutable_rendezvous()->set_job_id(id);
    EXPECT_NE(ValidateWorkerMessage(rendezvous).message().find("rendezvous.job_id: "),
              std::string::npos);
  }
  polytrain::v1::WorkerMessage well_formed;
  well_formed.mutable_started()->set_job_id("job-0123456789ab");
  well_formed.mutable_started()->set_attempt(1);
  EXPECT_TRUE(ValidateWorkerMessage(well_formed).ok());
}

TEST(WorkerMessagesTest, HellosAreBounded) {
  polytrain::v1::Hello hello;
  hello.set_name("w1");
  hello.add_devices("cpu");
  hello.add_devices("cuda");
  hello.set_threads(65536);
  EXPECT_TRUE(ValidateHello(hello).ok());
  hello.set_threads(-5);
  EXPECT_EQ(ValidateHello(hello).message(), "hello.threads: must be in [0, 65536], got -5");
  hello.set_threads(2);
  hello.add_devices("CUDA:0");
  EXPECT_EQ(ValidateHello(hello).message(),
            "hello.devices[2]: a device is 1 to 16 of [a-z0-9], got 'CUDA:0'");
  hello.clear_devices();
  for (int i = 0; i < 9; ++i) hello.add_devices("cpu");
  EXPECT_EQ(ValidateHello(hello).message(), "hello.devices: at most 8 devices, got 9");
}

TEST(WorkerMessagesTest, DownloadPathsAreQuotedShort) {
  polytrain::v1::DownloadArtifactRequest request;
  request.set_path(std::string(100000, 'p'));
  const absl::Status status = ValidateDownloadArtifactRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "path: expected <job_id>/<name>, got '" + std::string(64, 'p') +
                                  "...' (100000 characters)");
  request.set_path("job-1/../x");
  EXPECT_EQ(ValidateDownloadArtifactRequest(request).message(),
            "path: expected <job_id>/<name> of two plain file names, got 'job-1/../x'");
  request.set_path("/etc/passwd");
  EXPECT_EQ(ValidateDownloadArtifactRequest(request).message(),
            "path: expected <job_id>/<name> of two plain file names, got '/etc/passwd'");
  request.set_path("sha256/zz");
  EXPECT_EQ(ValidateDownloadArtifactRequest(request).message(),
            "path: expected sha256/<64 lowercase hex digits> for a stored file, got 'sha256/zz'");
  request.set_path("sha256/" + std::string(64, 'A'));
  EXPECT_EQ(ValidateDownloadArtifactRequest(request).code(), absl::StatusCode::kInvalidArgument);
  request.set_path("sha256/" + std::string(64, 'a'));
  EXPECT_TRUE(ValidateDownloadArtifactRequest(request).ok());
  request.set_path("job-1/ckpt-1.pt");
  EXPECT_TRUE(ValidateDownloadArtifactRequest(request).ok());
}

TEST(WorkerMessagesTest, ChunksAreBounded) {
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id("job-1");
  chunk.set_name("ckpt-000000000001.pt");
  chunk.set_attempt(1);
  chunk.set_data(std::string(1 << 20, 'd'));
  EXPECT_TRUE(ValidateArtifactChunk(chunk, true).ok());
  chunk.mutable_data()->push_back('d');
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).message(),
            "data: chunks are at most 1 MiB, got 1048577 bytes");
  chunk.clear_data();
  chunk.set_name("../up");
  EXPECT_EQ(ValidateArtifactChunk(chunk, true).message(), "name: not a file name: '../up'");
  // Only the first chunk names the file: a later one that does is refused, by field.
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(), "job_id: set on the first chunk only");
  chunk.clear_job_id();
  chunk.set_attempt(2);
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(), "attempt: set on the first chunk only");
  chunk.clear_attempt();
  EXPECT_EQ(ValidateArtifactChunk(chunk, false).message(), "name: set on the first chunk only");
  chunk.clear_name();
  EXPECT_TRUE(ValidateArtifactChunk(chunk, false).ok());
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
  ready.mutable_rendezvous()->set_job_id("job-0123456789ab");
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
