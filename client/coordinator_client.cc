#include "client/coordinator_client.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "api/client_requests.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "common/chunked_file.h"
#include "common/file_checksum.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace polytrain {

// A watch that falls behind is resumed at once; this many in a row that pass on nothing new end
// it with the coordinator's RESOURCE_EXHAUSTED.
constexpr int kMaxWatchesBehindInARow = 3;
// How long a watch that fell behind may still hold its place in the coordinator's
// --max_watches_per_caller (as the Python client's _SLOT_RELEASE_SECONDS).
constexpr double kSlotReleaseSeconds = 10;

CoordinatorClient::CoordinatorClient(std::string address, ClientSecurityOptions security)
    : address_(std::move(address)), security_(std::move(security)) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address_, &security_);
  if (channel.ok()) {
    channel_ = *channel;
    stub_ = polytrain::v1::Coordinator::NewStub(channel_);
  } else {
    status_ = channel.status();
  }
}

bool CoordinatorClient::Connected(std::chrono::system_clock::time_point deadline) {
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  // Connecting until READY, or TRANSIENT_FAILURE (refused, a TLS mismatch, a name that does not
  // resolve), where the call fails at once with gRPC's reason. A connection that went IDLE again
  // (the coordinator's GOAWAY as it stops) is dialled again, not waited on until the deadline.
  while (state == GRPC_CHANNEL_IDLE || state == GRPC_CHANNEL_CONNECTING) {
    if (!channel_->WaitForStateChange(state, deadline)) break;
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  if (state == GRPC_CHANNEL_READY) connected_ = true;
  return state == GRPC_CHANNEL_READY;
}

absl::StatusOr<polytrain::v1::Artifact> CoordinatorClient::Upload(const std::string& path,
                                                                  const std::string& name) {
  if (!status_.ok()) return status_;
  // A device, a FIFO or a directory would be read forever, block, or fail midway.
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file (a model or dataset is uploaded from a file)"));
  }
  int64_t size = 0;  // the bytes hashed, announced (a /proc file's stat says 0)
  absl::StatusOr<std::string> hex = Sha256HexOfFile(path, &size);
  if (!hex.ok()) return hex.status();
  absl::StatusOr<std::unique_ptr<ChunkedFileReader>> reader =
      ChunkedFileReader::Open(path, kArtifactChunkBytes);
  if (!reader.ok()) return reader.status();
  grpc::ClientContext context;
  Prepare(&context);
  // 2 GiB at 10 MB/s takes under 4 minutes.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  polytrain::v1::Artifact stored;
  auto writer = stub_->UploadArtifact(&context, &stored);
  polytrain::v1::UploadArtifactRequest chunk;
  chunk.set_name(name);
  chunk.set_sha256(absl::StrCat(kArtifactIdPrefix, *hex));
  chunk.set_size_bytes(size);  // a file past the limit is refused at once
  // The bytes sent are hashed too: a file written while it is uploaded is then named as such,
  // rather than by the coordinator's refusal of a hash that does not match.
  Sha256Hasher sent;
  bool last = false, sent_all = false, sent_any = false;
  int64_t sent_bytes = 0;
  while (!last) {
    if (absl::Status s = (*reader)->Next(chunk.mutable_data(), &last); !s.ok()) {
      context.TryCancel();
      writer->Finish();
      return s;
    }
    chunk.set_last(last);
    sent.Update(chunk.data());
    sent_bytes += static_cast<int64_t>(chunk.data().size());
    // A refused write means the coordinator ended the call: Finish says why.
    if (!writer->Write(chunk)) break;
    sent_any = true;  // the connection was made: a later outage is a lost one
    sent_all = last;
    chunk.Clear();
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();  // fills `stored`
  if (!status.ok() && sent_bytes > size) {       // refused for the size announced
    return absl::FailedPreconditionError(
        absl::StrCat(path, " changed while it was uploaded (", size,
                     " bytes when hashed, more sent); nothing was stored: upload it again once "
                     "nothing writes to it"));
  }
  if (sent_all && !status.ok()) {
    if (const std::string sent_hex = sent.FinishHex(); sent_hex != *hex) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " changed while it was uploaded (its SHA-256 was ", *hex,
                       " before, the bytes sent have ", sent_hex,
                       "); nothing was stored: upload it again once nothing writes to it"));
    }
  }
  absl::StatusOr<polytrain::v1::Artifact> result = Result(status, std::move(stored), sent_any);
  if (result.status().code() == absl::StatusCode::kInvalidArgument) {
    // The coordinator names the request's field ("data: ... larger than ..."); this names the
    // file, of which it saw only the bytes.
    return absl::InvalidArgumentError(
        absl::StrCat(path, " (", size, " bytes): ", result.status().message()));
  }
  return result;
}

absl::StatusOr<polytrain::v1::CheckpointChunk> CoordinatorClient::DownloadCheckpoint(
    const std::string& job_id, const std::string& path, bool best) {
  if (!status_.ok()) return status_;
  polytrain::v1::DownloadCheckpointRequest request;
  request.set_id(job_id);
  request.set_best(best);
  // Checked here first as well: a bad id is named before any file is made for it.
  POLYTRAIN_RETURN_IF_ERROR(ValidateDownloadCheckpointRequest(request));
  std::error_code error;
  // A link counts as there even when it leads nowhere: nothing is written through one.
  if (std::filesystem::exists(std::filesystem::symlink_status(path, error))) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " exists; remove it or name another file (nothing was downloaded)"));
  }
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (!directory.empty() && !std::filesystem::is_directory(directory, error)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no directory ", directory.string(),
                                                   " (nothing was downloaded; make it first)"));
  }
  // Written as the worker writes a fetched checkpoint: a temporary file, checked, renamed; that
  // file hidden, and those of downloads killed before to this path removed.
  ChunkedFileWriter::RemoveAbandonedDownloads(path);
  absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> writer =
      ChunkedFileWriter::Create(path, kMaxArtifactBytes, ChunkedFileWriter::TempName::kDownload);
  if (!writer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot be written (", writer.status().message(), ")"));
  }
  grpc::ClientContext context;
  Prepare(&context);
  auto reader = stub_->DownloadCheckpoint(&context, request);
  polytrain::v1::CheckpointChunk chunk, first, last;
  absl::Status appended;
  bool any = false;
  for (; appended.ok() && reader->Read(&chunk); any = true) {
    if (!any) {
      first = chunk;
      first.clear_data();
    }
    appended = (*writer)->Append(chunk.data());
    if (chunk.last()) last = chunk;
  }
  if (!appended.ok()) context.TryCancel();  // nothing more is read
  const grpc::Status status = reader->Finish();
  if (!appended.ok()) return appended;
  if (!status.ok()) {
    absl::Status failed = Result(status, first, /*connected=*/any).status();
    // The coordinator holds no intact checkpoint of the job (DATA_LOSS): to a user, a missing
    // file (exit 4), unlike a transfer that arrived damaged here (DATA_LOSS below: try again).
    if (absl::IsDataLoss(failed)) return absl::NotFoundError(failed.message());
    return failed;
  }
  if (!last.last()) {
    return absl::DataLossError("the download ended before its last chunk; nothing was written");
  }
  if (best && !first.best()) {
    return absl::FailedPreconditionError(
        "best: the coordinator sent its newest checkpoint, not the best (a version older than "
        "best checkpoints); nothing was written");
  }
  POLYTRAIN_RETURN_IF_ERROR(
      (*writer)->Verify("the checkpoint", FileChecksum{last.size(), last.crc32()}));
  // Never over a file made while this one downloaded (another download to the same path).
  if (absl::Status s = (*writer)->Commit(ChunkedFileWriter::Existing::kKeep); !s.ok()) {
    if (!absl::IsAlreadyExists(s)) return s;
    return absl::AlreadyExistsError(absl::StrCat(path,
                                                 " was made while the checkpoint downloaded; "
                                                 "remove it or name another file (nothing was "
                                                 "written)"));
  }
  return first;
}

bool CoordinatorClient::Outage::TryAgain(const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  if (patience_.count() <= 0) return false;
  if (!away_) {
    away_ = true;
    since_ = now;
    if (quiet_) return true;
    std::cerr << "polyctl: " << why << "; " << action_ << " for up to " << patience_.count()
              << " s\n";
    return true;
  }
  return now - since_ <= patience_;
}

absl::StatusOr<polytrain::v1::Job> CoordinatorClient::Watch(
    const std::string& job_id,
    const std::function<void(const polytrain::v1::JobEvent&)>& on_event) {
  if (!status_.ok()) return status_;
  // Points passed on already, (step, kind): a resumed watch asks for the history after the
  // newest (resume_after), and skips any that come again (a coordinator before resume_after
  // sends the whole history).
  std::set<std::pair<int64_t, int>> seen;
  polytrain::v1::Job last;
  bool ever_connected = false;
  int behind = 0;  // watches in a row that fell behind and passed on nothing new
  Outage outage = NewOutage();
  Outage slot_wait(std::max(rewatch_seconds_, kSlotReleaseSeconds), /*quiet=*/true);
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    grpc::ClientContext context;
    Prepare(&context);
    polytrain::v1::WatchJobRequest request;
    request.set_id(job_id);
    if (!seen.empty()) {
      request.mutable_resume_after()->set_step(seen.rbegin()->first);
      request.mutable_resume_after()->set_kind(
          static_cast<polytrain::v1::MetricPoint::Kind>(seen.rbegin()->second));
    }
    auto reader = stub_->WatchJob(&context, request);
    polytrain::v1::JobEvent event;
    while (reader->Read(&event)) {
      ever_connected = true;
      outage.Reset();
      slot_wait.Reset();
      backoff = std::chrono::milliseconds(200);
      if (event.has_point()) {
        if (!seen.emplace(event.point().step(), event.point().kind()).second) continue;
      } else if (event.has_job()) {
        // Each watch opens with the job as it stands: passed on again only when it changed.
        // Compared by content: serialized bytes differ between equal jobs with maps (labels,
        // final_metrics), whose order protobuf does not fix.
        if (!last.id().empty() &&
            google::protobuf::util::MessageDifferencer::Equals(event.job(), last)) {
          continue;
        }
        last = event.job();
      }
      behind = 0;
      on_event(event);
    }
    const grpc::Status status = reader->Finish();
    // A client slower than the job's events (a slow terminal): the coordinator ended the watch;
    // it resumes at once after what was passed on, unless that keeps passing on nothing.
    const bool fell_behind = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                             absl::StrContains(status.error_message(), "this watch fell behind");
    if (fell_behind && IsFinalState(last.state())) return last;  // its end was passed on
    if (fell_behind && ++behind <= kMaxWatchesBehindInARow) continue;
    // The stream that fell behind may hold its place in --max_watches_per_caller a moment
    // longer, until the coordinator has finished it: waited for at least kSlotReleaseSeconds,
    // whatever --reconnect-seconds says.
    const bool slot_still_held =
        behind > 0 && status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        absl::StrContains(status.error_message(), "WatchJob streams at once");
    if (slot_still_held) {
      if (!slot_wait.TryAgain("the watch that fell behind still holds its place")) {
        return Result(status, std::move(last), ever_connected);
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    const bool away = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                      status.error_code() == grpc::StatusCode::CANCELLED;
    // A coordinator that goes away (a restart) after the watch began is waited for.
    if (!away || !ever_connected || IsFinalState(last.state()) ||
        !outage.TryAgain(absl::StrCat("the coordinator at ", address_, " went away (",
                                      status.error_message(), ")"))) {
      return Result(status, std::move(last), ever_connected);
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace polytrain
