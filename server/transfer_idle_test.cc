// Artifact uploads that stop moving, against a real coordinator server over loopback gRPC: a
// client that opens an upload and sends nothing more is cut off after --transfer_idle_seconds
// with DEADLINE_EXCEEDED naming the flag, its temporary file removed and its upload slot given
// back; an upload that keeps sending, however slowly, is not; a worker's upload (WorkerService)
// is held to the same rule, and a worker's download that stops reading is cancelled. And an
// upload of an attempt given up on while it ran is refused at its end, replacing nothing.
// In-process and torch-free, so the sanitizer builds run it too.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "api/limits.h"
#include "common/chunked_file.h"
#include "common/sha256.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.grpc.pb.h"
#include "polytrain/v1/worker.grpc.pb.h"
#include "server/coordinator_server.h"
#include "testing/zip_archive.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

constexpr int kIdleSeconds = 1;

// How many of this process's open files lie under `dir` (the in-process server's included).
int OpenFilesUnder(const fs::path& dir) {
  int n = 0;
  const std::string prefix = fs::canonical(dir).string() + "/";
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const fs::path target = fs::read_symlink(entry.path(), error);
    n += !error && target.string().rfind(prefix, 0) == 0;
  }
  return n;
}

int RegularFilesUnder(const fs::path& dir) {
  int n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) n += entry.is_regular_file();
  return n;
}

class TransferIdleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("transfer_idle_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StartServer(kIdleSeconds);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(5);
    server_.reset();
    fs::remove_all(dir_);
  }

  void StartServer(int idle_seconds) {
    if (server_ != nullptr) server_->Shutdown(5);
    server_.reset();
    CoordinatorServer::Options options;
    options.listen = "127.0.0.1:0";
    options.db = (dir_ / "jobs.db").string();
    options.artifacts = (dir_ / "artifacts").string();
    options.metrics_listen = "";
    options.security.plaintext = true;
    options.transfer_idle_seconds = idle_seconds;
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Coordinator::NewStub(channel_);
  }

  // An upload's first chunk: the file's name and digest, and a part of its bytes.
  static v1::UploadArtifactRequest FirstChunk(const std::string& name, const std::string& bytes) {
    v1::UploadArtifactRequest chunk;
    chunk.set_name(name);
    chunk.set_sha256("sha256:" + Sha256Hex(bytes));
    chunk.set_data(bytes.substr(0, bytes.size() / 2));
    return chunk;
  }

  // A job of a few rows of synthetic data named `name`, its model to be set.
  static v1::JobSpec TinySpec(const std::string& name) {
    v1::JobSpec spec;
    spec.set_name(name);
    auto* data = spec.mutable_dataset()->mutable_synthetic();
    data->set_classes(2);
    data->set_features(2);
    data->set_train_samples(4);
    data->set_test_samples(4);
    spec.mutable_loss()->mutable_cross_entropy();
    spec.mutable_optimizer()->mutable_sgd();
    spec.mutable_optimizer()->set_learning_rate(0.1);
    spec.set_epochs(1);
    spec.set_batch_size(2);
    return spec;
  }
  void Submit(const v1::JobSpec& spec) {
    grpc::ClientContext context;
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    v1::Job job;
    const grpc::Status status = stub_->SubmitJob(&context, request, &job);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A client deadline far beyond the server's idle limit: a stream that the server does not end
  // fails the test with the client's own deadline, whose message does not name the flag.
  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  fs::path dir_;
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

TEST_F(TransferIdleTest, AStalledUploadIsEndedWithNothingKeptAndItsSlotGivenBack) {
  // As many stalled uploads as one caller may hold: each sends half its file and nothing more.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::Artifact> answers(kMaxConcurrentUploads);
  std::vector<std::unique_ptr<grpc::ClientWriter<v1::UploadArtifactRequest>>> uploads;
  for (int i = 0; i < kMaxConcurrentUploads; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    SetDeadline(contexts.back().get());
    uploads.push_back(stub_->UploadArtifact(contexts.back().get(), &answers[i]));
    const std::string bytes(4096, static_cast<char>('a' + i));
    ASSERT_TRUE(uploads.back()->Write(FirstChunk("stalled-" + std::to_string(i), bytes)));
  }
  for (auto& upload : uploads) {
    const grpc::Status status = upload->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(status.error_message().find("no chunk came for 1 s"), std::string::npos)
        << status.error_message();
    EXPECT_NE(status.error_message().find("--transfer_idle_seconds"), std::string::npos);
  }
  EXPECT_EQ(RegularFilesUnder(dir_ / "artifacts"), 0);  // no temporary file left

  // The slots are free again: a whole upload is stored.
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Artifact stored;
  auto upload = stub_->UploadArtifact(&context, &stored);
  const std::string bytes(4096, 'z');
  v1::UploadArtifactRequest chunk = FirstChunk("whole", bytes);
  chunk.set_data(bytes);
  chunk.set_last(true);
  ASSERT_TRUE(upload->Write(chunk));
  upload->WritesDone();
  const grpc::Status status = upload->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.size_bytes(), 4096);

  grpc::ClientContext list_context;
  v1::ListArtifactsResponse listed;
  ASSERT_TRUE(stub_->ListArtifacts(&list_context, v1::ListArtifactsRequest(), &listed).ok());
  ASSERT_EQ(listed.artifacts_size(), 1);
  EXPECT_EQ(listed.artifacts(0).name(), "whole");
}

TEST_F(TransferIdleTest, AnUploadThatKeepsSendingOutlastsTheIdleLimit) {
  // Sixteen chunks a quarter of a second apart: 4 s in all, past a 3 s idle limit, never idle
  // (a 3 s limit leaves a slow machine room between two chunks; the other tests keep 1 s).
  StartServer(3);
  ASSERT_NE(server_, nullptr);
  const std::string bytes(16 * 1024, 'p');
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Artifact stored;
  auto upload = stub_->UploadArtifact(&context, &stored);
  for (int i = 0; i < 16; ++i) {
    v1::UploadArtifactRequest chunk;
    if (i == 0) chunk = FirstChunk("slow", bytes);
    chunk.set_data(bytes.substr(i * 1024, 1024));
    chunk.set_last(i == 15);
    ASSERT_TRUE(upload->Write(chunk)) << "chunk " << i;
    // The pace of a slow client is what is tested here, not a wait for another thread.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  upload->WritesDone();
  const grpc::Status status = upload->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.size_bytes(), 16 * 1024);
}

// Empty chunks are no progress: past kMaxEmptyChunksInARow in a row the upload is refused, not
// kept open (each one reset the idle limit, so a caller could hold a slot forever).
TEST_F(TransferIdleTest, AnUploadOfEmptyChunksIsRefused) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Artifact stored;
  auto upload = stub_->UploadArtifact(&context, &stored);
  ASSERT_TRUE(upload->Write(FirstChunk("empty-chunks", std::string(64, 'e'))));
  for (int i = 0; i <= kMaxEmptyChunksInARow; ++i) {
    if (!upload->Write(v1::UploadArtifactRequest())) break;  // refused meanwhile
  }
  upload->WritesDone();
  const grpc::Status status = upload->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The first chunk, then the 65th empty one in a row.
  EXPECT_EQ(status.error_message(),
            "chunk 66: data: more than 64 empty chunks in a row; nothing stored");
  EXPECT_EQ(RegularFilesUnder(dir_ / "artifacts"), 0);
}

TEST_F(TransferIdleTest, AWorkersUploadThatSendsNothingIsEnded) {
  auto workers = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ArtifactReceipt receipt;
  auto upload = workers->UploadArtifact(&context, &receipt);
  const grpc::Status status = upload->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(status.error_message().find("--transfer_idle_seconds"), std::string::npos)
      << status.error_message();
}

TEST_F(TransferIdleTest, AWorkersDownloadThatStopsReadingIsCancelledAndItsFileClosed) {
  // A file far larger than what gRPC and the kernel buffer for a reader that reads nothing, so
  // the coordinator's writes must wait on the worker.
  // A zip archive, as a job's model must be, of 64 chunks and a little more.
  const std::string model = testing::StoredModelZip(std::string(64 * kArtifactChunkBytes, 'm'));
  const std::string id = "sha256:" + Sha256Hex(model);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::Artifact stored;
    auto upload = stub_->UploadArtifact(&context, &stored);
    for (size_t at = 0; at < model.size(); at += kArtifactChunkBytes) {
      v1::UploadArtifactRequest chunk;
      if (at == 0) {
        chunk.set_name("model.pt");
        chunk.set_sha256(id);
      }
      chunk.set_data(model.substr(at, kArtifactChunkBytes));
      chunk.set_last(at + kArtifactChunkBytes >= model.size());
      ASSERT_TRUE(upload->Write(chunk)) << "at " << at;
    }
    upload->WritesDone();
    const grpc::Status status = upload->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // A worker may read the file only for a running job that names it.
  v1::JobSpec byo = TinySpec("byo");
  byo.mutable_model()->mutable_torchscript()->set_artifact(id);
  ASSERT_NO_FATAL_FAILURE(Submit(byo));
  auto workers = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext worker_context;
  auto worker = workers->Connect(&worker_context);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("w");
  hello.mutable_hello()->set_slots(1);
  hello.mutable_hello()->add_devices("cpu");
  ASSERT_TRUE(worker->Write(hello));
  v1::CoordinatorMessage message;
  std::string session_key;  // the worker's downloads name its session
  while (!message.has_assignment()) {
    ASSERT_TRUE(worker->Read(&message));
    if (message.has_welcome()) session_key = message.welcome().session_key();
  }

  grpc::ClientContext context;
  SetDeadline(&context);
  v1::DownloadArtifactRequest request;
  request.set_path("sha256/" + id.substr(7));
  request.set_session_key(session_key);
  auto download = workers->DownloadArtifact(&context, request);
  v1::ArtifactChunk chunk;
  ASSERT_TRUE(download->Read(&chunk));  // the download runs, and then nothing more is read
  int64_t received = chunk.data().size();
  EXPECT_EQ(chunk.name(), id.substr(7));  // stored files are named by their hash

  // The coordinator closes the file once it gives up on the reader; without the idle limit it
  // holds it as long as the connection lives, and the wait below runs out.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (OpenFilesUnder(dir_ / "artifacts") > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(OpenFilesUnder(dir_ / "artifacts"), 0);
  while (download->Read(&chunk)) received += chunk.data().size();  // what was on its way
  const grpc::Status status = download->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  EXPECT_LT(received, static_cast<int64_t>(model.size()));

  worker_context.TryCancel();
  while (worker->Read(&message)) {
  }
  (void)worker->Finish();
}

// A worker's Connect stream, as Connect and Assigned leave it.
struct TestWorker {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>> stream;
  std::string session_key;
  v1::Job job;  // as assigned: job.attempts() is the attempt
};

// Says hello and reads the welcome.
void Connect(v1::WorkerService::Stub* workers, const std::string& name, TestWorker* worker) {
  worker->stream = workers->Connect(&worker->context);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name(name);
  hello.mutable_hello()->set_slots(1);
  hello.mutable_hello()->add_devices("cpu");
  ASSERT_TRUE(worker->stream->Write(hello));
  v1::CoordinatorMessage message;
  while (!message.has_welcome()) ASSERT_TRUE(worker->stream->Read(&message));
  worker->session_key = message.welcome().session_key();
}

// Reads until the worker is assigned a job.
void Assigned(TestWorker* worker) {
  v1::CoordinatorMessage message;
  while (!message.has_assignment()) ASSERT_TRUE(worker->stream->Read(&message));
  worker->job = message.assignment().job();
}

// Review MED-2: the file went in place before the attempt was checked again, replacing the next
// attempt's file of that name, and was then removed.
TEST_F(TransferIdleTest, AnUploadOfAnAttemptGivenUpOnIsRefusedAndReplacesNothing) {
  StartServer(/*idle_seconds=*/60);  // the stale upload waits for the next attempt's
  v1::JobSpec given_up = TinySpec("given-up");
  given_up.mutable_model()->mutable_mlp();
  given_up.set_max_attempts(3);
  ASSERT_NO_FATAL_FAILURE(Submit(given_up));
  auto workers = v1::WorkerService::NewStub(channel_);
  const std::string name = "ckpt-000000000001.pt";
  auto chunk_of = [&](const TestWorker& worker, const std::string& data, bool first) {
    v1::ArtifactChunk chunk;
    if (first) {
      chunk.set_job_id(worker.job.id());
      chunk.set_attempt(worker.job.attempts());
      chunk.set_name(name);
      chunk.set_session_key(worker.session_key);
    }
    chunk.set_data(data);
    return chunk;
  };
  auto last_chunk = [&](const std::string& whole) {
    v1::ArtifactChunk chunk;
    chunk.set_last(true);
    chunk.set_size(static_cast<int64_t>(whole.size()));
    chunk.set_crc32(ExtendCrc32(0, whole));
    return chunk;
  };

  TestWorker first, second;
  ASSERT_NO_FATAL_FAILURE(Connect(workers.get(), "w1", &first));
  ASSERT_NO_FATAL_FAILURE(Assigned(&first));
  ASSERT_EQ(first.job.attempts(), 1);
  ASSERT_NO_FATAL_FAILURE(Connect(workers.get(), "w2", &second));  // idle: nothing else queued
  // Attempt 1 starts an upload (taken once its temporary file is there), then gives the job
  // back before it ends the upload.
  grpc::ClientContext stale_context;
  SetDeadline(&stale_context);
  v1::ArtifactReceipt stale_receipt;
  auto stale = workers->UploadArtifact(&stale_context, &stale_receipt);
  const std::string stale_bytes = "attempt 1, late";
  ASSERT_TRUE(stale->Write(chunk_of(first, stale_bytes, /*first=*/true)));
  const fs::path job_dir = dir_ / "artifacts" / first.job.id();
  auto receiving = [&job_dir] {
    std::error_code error;
    for (fs::directory_iterator it(job_dir, error), end; !error && it != end; it.increment(error)) {
      if (it->path().filename().string().find(".upload-") != std::string::npos) return true;
    }
    return false;
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!receiving() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(receiving());
  v1::WorkerMessage released;
  released.mutable_failed()->set_job_id(first.job.id());
  released.mutable_failed()->set_attempt(1);
  released.mutable_failed()->set_released(true);
  released.mutable_failed()->set_error("giving it back");
  ASSERT_TRUE(first.stream->Write(released));

  // Attempt 2, on the other worker, stores the same step's checkpoint.
  ASSERT_NO_FATAL_FAILURE(Assigned(&second));
  ASSERT_EQ(second.job.attempts(), 2);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ArtifactReceipt receipt;
    auto upload = workers->UploadArtifact(&context, &receipt);
    const std::string bytes = "attempt 2";
    ASSERT_TRUE(upload->Write(chunk_of(second, bytes, /*first=*/true)));
    ASSERT_TRUE(upload->Write(last_chunk(bytes)));
    upload->WritesDone();
    const grpc::Status status = upload->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  ASSERT_TRUE(stale->Write(last_chunk(stale_bytes)));
  stale->WritesDone();
  const grpc::Status refused = stale->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  std::ifstream in(job_dir / name);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "attempt 2");
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "artifacts")) {
    EXPECT_EQ(entry.path().filename().string().find(".upload-"), std::string::npos) << entry;
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry;
  }

  for (TestWorker* worker : {&first, &second}) {
    worker->context.TryCancel();
    v1::CoordinatorMessage message;
    while (worker->stream->Read(&message)) {
    }
    (void)worker->stream->Finish();
  }
}

}  // namespace
}  // namespace polytrain
