#include "server/job_watch_stream.h"

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "server/request_bytes.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// The stream writes one message at a time, in this order: the job as the watch found it, its
// history (read a page at a time while the client takes it), then the live events that waited
// in the backlog and those that follow. Whoever finds no write in flight starts the next one
// (`writing_` says a write, or a page read, is under way).
class JobWatchStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public JobWatcher {
 public:
  JobWatchStream(ClientApi* api, CoordinatorMetrics* metrics, CallerQuota* quota,
                 const WatchLimits& limits)
      : api_(api), metrics_(metrics), quota_(quota), limits_(limits) {}

  // Starts the watch; a refused caller, request or quota finishes the stream at once.
  void Start(const grpc::ByteBuffer& request_bytes, const absl::StatusOr<Caller>& caller,
             const std::function<void(const absl::Status&)>& refused) {
    polytrain::v1::WatchJobRequest request;
    absl::Status status = caller.status();
    if (status.ok()) status = ParseRequest(request_bytes, &request, UnknownFields::kRefuse);
    if (status.ok()) {
      if (quota_->TryAcquire(caller->name)) {
        quota_holder_ = caller->name;
      } else {
        status = absl::ResourceExhaustedError(
            absl::StrCat("at most ", quota_->per_caller(),
                         " WatchJob streams at once per caller (coordinator flag "
                         "--max_watches_per_caller); end one first"));
      }
    }
    std::optional<WatchStart> start;
    if (status.ok()) {
      job_id_ = request.id();
      // Live events may arrive from here on, before this returns: they wait in the backlog.
      absl::StatusOr<WatchStart> started = api_->Watch(request, this, *caller);
      status = started.status();
      if (started.ok()) start = *std::move(started);
      if (absl::IsPermissionDenied(status) && refused) refused(status);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!status.ok()) {
      FinishLocked(ToGrpcStatus(status));
      return;
    }
    polytrain::v1::JobEvent first;
    *first.mutable_job() = std::move(start->job);
    history_.emplace_back();
    if (absl::Status s = SerializeResponse(first, &history_.back()); !s.ok()) {
      FinishLocked(ToGrpcStatus(s));
      return;
    }
    history_through_ = start->history_through;
    history_read_ = !history_through_.has_value();
    // A resumed watch: the history the client has seen is not sent again.
    if (request.has_resume_after()) {
      history_after_ = MetricKey{request.resume_after().step(),
                                 static_cast<int32_t>(request.resume_after().kind())};
    }
    started_ = true;
    if (!writing_) WriteNextLocked(lock);
  }

  void OnEvent(const polytrain::v1::JobEvent& event) override {
    // Called under the scheduler's lock: it queues, and writes only from the backlog (with a
    // write in flight or the history still to send, the writer takes it later).
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_ || closing_.has_value()) return;
    grpc::ByteBuffer bytes;
    if (!SerializeResponse(event, &bytes).ok()) return;
    backlog_bytes_ += static_cast<int64_t>(bytes.Length()) + kEventOverheadBytes;
    backlog_.push_back(std::move(bytes));
    if (backlog_bytes_ > limits_.backlog_bytes) {
      spdlog::info("a watch of job {} fell behind (more than {} bytes of events unread): ended",
                   job_id_, limits_.backlog_bytes);
      CloseLocked(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("this watch fell behind: more than ", limits_.backlog_bytes,
                       " bytes of events waited for the client to read them (coordinator flag "
                       "--max_watch_backlog_bytes); watch again to resume from the history")));
      return;
    }
    if (started_ && !writing_ && history_.empty() && history_read_) WriteNextLocked(lock);
  }

  void OnEnd() override {
    std::unique_lock<std::mutex> lock(mu_);
    ended_ = true;
    if (started_ && !writing_ && history_.empty() && history_read_) WriteNextLocked(lock);
  }

  void OnShutdown() override {
    std::lock_guard<std::mutex> lock(mu_);
    CloseLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "the coordinator is shutting down; watch again once it is back (the "
                             "history comes first)"));
  }

  void OnWriteDone(bool ok) override {
    bool client_gone = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        client_gone = true;
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      } else {
        WriteNextLocked(lock);
      }
    }
    // Outside our lock: the Scheduler calls OnEvent while holding its own.
    if (client_gone) api_->Unwatch(job_id_, this);
  }

  void OnCancel() override {
    api_->Unwatch(job_id_, this);
    std::lock_guard<std::mutex> lock(mu_);
    CloseLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    api_->Unwatch(job_id_, this);  // no event can arrive after this returns
    if (quota_holder_.has_value()) quota_->Release(*quota_holder_);
    delete this;
  }

 private:
  // Starts the next write, reading the next page of the history first where it is due; with
  // nothing left to write, finishes the stream once the job ended (or a close is pending).
  void WriteNextLocked(std::unique_lock<std::mutex>& lock) {
    while (!finished_) {
      if (closing_.has_value()) {
        FinishLocked(*closing_);
        return;
      }
      std::deque<grpc::ByteBuffer>& source =
          !history_.empty() || !history_read_ ? history_ : backlog_;
      if (!source.empty()) {
        current_ = std::move(source.front());
        source.pop_front();
        if (&source == &backlog_) {
          backlog_bytes_ -= static_cast<int64_t>(current_.Length()) + kEventOverheadBytes;
        }
        writing_ = true;
        StartWrite(&current_);
        return;
      }
      if (&source == &backlog_) {
        if (ended_) FinishLocked(grpc::Status::OK);
        return;
      }
      // The next page, read with our lock released (writing_ keeps other writers out) so that
      // the scheduler's OnEvent never waits on the store.
      writing_ = true;
      const std::optional<MetricKey> after = history_after_;
      lock.unlock();
      absl::StatusOr<std::vector<polytrain::v1::MetricPoint>> page =
          api_->WatchHistory(job_id_, after, *history_through_, limits_.history_page);
      lock.lock();
      writing_ = false;
      if (!page.ok()) {
        FinishLocked(ToGrpcStatus(page.status()));
        return;
      }
      polytrain::v1::JobEvent event;
      for (polytrain::v1::MetricPoint& point : *page) {
        history_after_ = MetricKey{point.step(), static_cast<int32_t>(point.kind())};
        *event.mutable_point() = std::move(point);
        history_.emplace_back();
        if (!SerializeResponse(event, &history_.back()).ok()) history_.pop_back();
      }
      if (static_cast<int>(page->size()) < limits_.history_page) history_read_ = true;
    }
  }

  // Finishes now, or after the write in flight (a write outstanding is not finished over).
  void CloseLocked(const grpc::Status& status) {
    if (finished_ || closing_.has_value()) return;
    backlog_.clear();
    backlog_bytes_ = 0;
    history_.clear();
    history_read_ = true;
    if (writing_) {
      closing_ = status;
    } else {
      FinishLocked(status);
    }
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    backlog_.clear();
    history_.clear();
    if (metrics_ != nullptr) {  // counted as it ends, with how long it was watched
      metrics_->Rpc(
          "WatchJob", status.error_code(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    Finish(status);
  }

  ClientApi* const api_;
  CoordinatorMetrics* const metrics_;
  CallerQuota* const quota_;
  const WatchLimits limits_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string job_id_;
  std::optional<std::string> quota_holder_;  // the caller whose quota this watch holds

  std::mutex mu_;
  bool started_ = false;  // Watch returned: the first event and the history's bound are known
  // The history: the first event, then pages, read through history_through_ (inclusive).
  std::deque<grpc::ByteBuffer> history_;
  std::optional<MetricKey> history_through_;
  std::optional<MetricKey> history_after_;  // the last point read
  bool history_read_ = false;               // every page read
  std::deque<grpc::ByteBuffer> backlog_;    // live events, after the history
  int64_t backlog_bytes_ = 0;
  grpc::ByteBuffer current_;
  bool writing_ = false;
  bool ended_ = false;
  std::optional<grpc::Status> closing_;  // to finish with once the write in flight completes
  bool finished_ = false;
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartJobWatch(
    grpc::CallbackServerContext* /*context*/, ClientApi* api, CoordinatorMetrics* metrics,
    CallerQuota* quota, const WatchLimits& limits, const grpc::ByteBuffer& request,
    const absl::StatusOr<Caller>& caller, std::function<void(const absl::Status&)> refused) {
  auto* stream = new JobWatchStream(api, metrics, quota, limits);
  stream->Start(request, caller, refused);
  return stream;
}

}  // namespace polytrain
