#include "worker/metric_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_file.h"
#include "google/protobuf/util/json_util.h"

namespace polytrain {

using polytrain::v1::MetricPoint;

absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> JsonLinesMetricSink::Create(
    const std::string& path, bool append) {
  errno = 0;
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  if (!out) {
    const int why = errno;
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": cannot open for writing", why != 0 ? absl::StrCat(": ", std::strerror(why)) : ""));
  }
  return std::unique_ptr<JsonLinesMetricSink>(new JsonLinesMetricSink(path, std::move(out)));
}

void JsonLinesMetricSink::Emit(const MetricPoint& point) {
  if (point.step() <= resumed_step_) {
    const absl::Status rewritten = Rewrite([&point](const MetricPoint& held) {
      return held.step() != point.step() || held.kind() != point.kind();
    });
    if (!rewritten.ok()) {
      std::cerr << "polytrain-worker: --metrics_out: " << rewritten.message() << "\n";
    }
  }
  out_ << ToJson(point, /*include_defaults=*/true) << "\n";
  out_.flush();
}

absl::Status JsonLinesMetricSink::ResumeAt(int64_t step) {
  // Only a plain regular file is read back and rewritten: a pipe or a terminal would block the
  // read, and through a link (/dev/stdout, /proc/self/fd/N) the rename would leave this sink
  // writing to the file it replaced.
  std::error_code error;
  const std::filesystem::file_status named = std::filesystem::symlink_status(path_, error);
  if (error || !std::filesystem::is_regular_file(named)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_,
                     ": not a plain regular file (a link, a pipe, a device), so the points "
                     "past the checkpoint (step ",
                     step, ") a stopped run wrote there stay; later points are appended"));
  }
  resumed_step_ = step;
  return Rewrite([step](const MetricPoint& held) { return held.step() <= step; });
}

absl::Status JsonLinesMetricSink::Rewrite(const std::function<bool(const MetricPoint&)>& keep) {
  out_.close();
  absl::Status rewritten = RewriteClosed(keep);
  // Whatever happened, the sink appends to the file again: a later point is never lost unsaid.
  out_.open(path_, std::ios::app);
  if (!out_) {
    return absl::InternalError(absl::StrCat(path_, ": cannot open for writing again",
                                            rewritten.ok() ? "" : "; ", rewritten.message()));
  }
  return rewritten;
}

absl::Status JsonLinesMetricSink::RewriteClosed(
    const std::function<bool(const MetricPoint&)>& keep) {
  const std::string temp = absl::StrCat(path_, ".rewrite-", getpid());
  std::error_code error;
  {
    std::ifstream in(path_);
    if (!in) return absl::InternalError(absl::StrCat(path_, ": cannot read it back"));
    std::ofstream kept(temp, std::ios::trunc);
    if (!kept) return absl::InternalError(absl::StrCat(temp, ": cannot open for writing"));
    std::string line;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    while (std::getline(in, line)) {
      MetricPoint held;
      if (!google::protobuf::util::JsonStringToMessage(line, &held, options).ok() || keep(held)) {
        kept << line << "\n";
      }
    }
    kept.flush();
    if (in.bad() || !kept) {
      kept.close();
      std::filesystem::remove(temp, error);
      return absl::InternalError(
          absl::StrCat(path_, ": rewriting it failed; the file is as it was"));
    }
  }
  // The file keeps its permissions.
  std::filesystem::permissions(temp, std::filesystem::status(path_, error).permissions(), error);
  std::filesystem::rename(temp, path_, error);
  if (error) {
    const std::string why = error.message();
    std::filesystem::remove(temp, error);
    return absl::InternalError(absl::StrCat(path_, ": ", why));
  }
  return absl::OkStatus();
}

ProgressMetricSink::ProgressMetricSink(std::FILE* out, int64_t total_steps)
    : out_(out), total_steps_(total_steps), terminal_(isatty(fileno(out)) != 0) {}

void ProgressMetricSink::Emit(const MetricPoint& point) {
  auto value = [&](const char* key) {
    auto it = point.values().find(key);
    return it == point.values().end() ? 0.0 : it->second;
  };
  // A value a point may lack (accuracy over rows that were all ignored): "-".
  auto shown = [&](const char* name) -> std::string {
    auto it = point.values().find(name);
    return it == point.values().end() ? "-" : absl::StrFormat("%.4f", it->second);
  };
  if (point.kind() == MetricPoint::KIND_EVAL) {
    if (line_open_) std::fputc('\n', out_);
    line_open_ = false;
    std::fprintf(out_, "eval  step %lld epoch %d: loss %.4f accuracy %s ece %s",
                 static_cast<long long>(point.step()), point.epoch(), value("eval_loss"),
                 shown("eval_accuracy").c_str(), shown("eval_ece").c_str());
    if (point.values().count("eval_exact_match") != 0) {  // multi-label data
      std::fprintf(out_, " exact_match %s f1 %s", shown("eval_exact_match").c_str(),
                   shown("eval_f1").c_str());
    }
    if (point.values().count("val_accuracy") != 0) {
      std::fprintf(out_, " | val accuracy %.4f", value("val_accuracy"));
    }
    std::fputc('\n', out_);
    std::fflush(out_);
    return;
  }
  const double rate = value("samples_per_second");
  const std::string accuracy = shown("accuracy");
  const double remaining = static_cast<double>(total_steps_ - point.step());
  const double seconds_per_step =
      point.step() > 0 ? point.elapsed_seconds() / static_cast<double>(point.step()) : 0.0;
  std::fprintf(out_,
               "%strain step %lld/%lld epoch %d (%3.0f%%): loss %.4f accuracy %s lr %.3g "
               "%.0f samples/s ETA %.0fs%s",
               terminal_ ? "\r" : "", static_cast<long long>(point.step()),
               static_cast<long long>(total_steps_), point.epoch(), 100.0 * point.epoch_progress(),
               value("loss"), accuracy.c_str(), value("learning_rate"), rate,
               remaining * seconds_per_step, terminal_ ? "\033[K" : "\n");
  line_open_ = terminal_;
  std::fflush(out_);
}

}  // namespace polytrain
