#include "worker/artifact_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "common/chunked_file.h"
#include "common/grpc_status.h"

namespace polytrain {
namespace {

constexpr auto kTransferDeadline = std::chrono::minutes(10);

}  // namespace

absl::StatusOr<std::unique_ptr<polytrain::v1::WorkerService::Stub>> ArtifactClient::Connect(
    grpc::ClientContext* context) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = dial_(context);
  if (!channel.ok()) return channel.status();
  context->set_deadline(std::chrono::system_clock::now() + kTransferDeadline);
  return polytrain::v1::WorkerService::NewStub(*channel);
}

absl::Status ArtifactClient::Upload(const std::string& job_id, int attempt,
                                    const std::string& path) {
  absl::StatusOr<std::unique_ptr<ChunkedFileReader>> file =
      ChunkedFileReader::Open(path, kArtifactChunkBytes);
  if (!file.ok()) return file.status();
  grpc::ClientContext context;
  absl::StatusOr<std::unique_ptr<polytrain::v1::WorkerService::Stub>> stub = Connect(&context);
  if (!stub.ok()) return stub.status();
  polytrain::v1::ArtifactReceipt receipt;
  auto writer = (*stub)->UploadArtifact(&context, &receipt);
  polytrain::v1::ArtifactChunk chunk;
  chunk.set_job_id(job_id);
  chunk.set_attempt(attempt);
  chunk.set_name(path.substr(path.find_last_of('/') + 1));
  chunk.set_session_key(session_key_());
  bool last = false;
  while (!last) {
    if (absl::Status s = (*file)->Next(chunk.mutable_data(), &last); !s.ok()) {
      context.TryCancel();
      (void)writer->Finish();
      return s;
    }
    if (last) {
      chunk.set_last(true);
      chunk.set_size((*file)->read().size);
      chunk.set_crc32((*file)->read().crc32);
    }
    if (!writer->Write(chunk)) break;  // the coordinator ended the call: Finish says why
    chunk.Clear();
  }
  writer->WritesDone();
  return FromGrpcStatus(writer->Finish());
}

absl::StatusOr<ArtifactClient::Downloaded> ArtifactClient::Download(
    const std::string& relative, bool or_older_checkpoint, const std::string& dir,
    const std::function<bool(const std::string&)>& acceptable_name,
    const std::function<absl::Status(const Downloaded&)>& before_commit) {
  grpc::ClientContext context;
  absl::StatusOr<std::unique_ptr<polytrain::v1::WorkerService::Stub>> stub = Connect(&context);
  if (!stub.ok()) return stub.status();
  polytrain::v1::DownloadArtifactRequest request;
  request.set_path(relative);
  request.set_or_older_checkpoint(or_older_checkpoint);
  request.set_session_key(session_key_());
  auto reader = (*stub)->DownloadArtifact(&context, request);
  std::unique_ptr<ChunkedFileWriter> file;
  absl::Status status;
  bool complete = false;
  polytrain::v1::ArtifactChunk chunk;
  while (status.ok() && reader->Read(&chunk)) {
    if (file == nullptr) {  // the first chunk names the file served
      if (!acceptable_name(chunk.name()) || chunk.name().find('/') != std::string::npos) {
        status = absl::DataLossError(
            absl::StrCat(relative, ": the coordinator served an unexpected file"));
        break;
      }
      absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> created =
          ChunkedFileWriter::Create(absl::StrCat(dir, "/", chunk.name()), kMaxArtifactBytes);
      if (!created.ok()) {
        status = created.status();
        break;
      }
      file = *std::move(created);
    }
    status = file->Append(chunk.data());
    if (status.ok() && chunk.last()) {
      status = file->Verify(relative, {chunk.size(), chunk.crc32()});
      complete = status.ok();
    }
  }
  if (!status.ok()) context.TryCancel();
  const absl::Status call = FromGrpcStatus(reader->Finish());
  if (!status.ok()) return status;
  if (!call.ok()) return call;
  if (!complete) return absl::DataLossError(absl::StrCat(relative, ": the download ended early"));
  Downloaded downloaded{file->final_path(), file->written()};
  if (absl::Status s = before_commit(downloaded); !s.ok()) return s;
  if (absl::Status s = file->Commit(); !s.ok()) return s;
  return downloaded;
}

}  // namespace polytrain
