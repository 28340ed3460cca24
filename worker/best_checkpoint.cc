#include "worker/best_checkpoint.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/search_metric.h"
#include "api/worker_messages.h"
#include "common/file_sync.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_files.h"

namespace polytrain {

namespace fs = std::filesystem;

BestCheckpointKeeper::BestCheckpointKeeper(std::string dir, std::string metric, int keep_last)
    : dir_(std::move(dir)), metric_(dir_.empty() ? "" : std::move(metric)), keep_last_(keep_last) {}

namespace {

// A record is a few lines: a bigger file is not one (and is not read whole).
constexpr std::uintmax_t kMaxRecordBytes = 4096;

// Parse errors are said once, by the caller, not printed by protobuf.
class QuietErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

}  // namespace

void BestCheckpointKeeper::Start(int64_t step) {
  if (dir_.empty()) return;
  const fs::path record = fs::path(dir_) / kBestCheckpointRecord;
  std::error_code error;
  // A run killed while it replaced the record leaves its temporary file.
  for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
    if (absl::StartsWith(it->path().filename().string(),
                         absl::StrCat(kBestCheckpointRecord, ".tmp-"))) {
      fs::remove(it->path(), error);
    }
  }
  error.clear();
  if (!fs::exists(fs::symlink_status(record, error))) return;
  if (metric_.empty()) {  // an earlier run's, of a spec that kept a best
    fs::remove(record, error);
    return;
  }
  const std::string why = Continues(record, step);
  if (why.empty()) return;
  spdlog::warn("{}: not going on with the best checkpoint it names: {}", record.string(), why);
  fs::remove(record, error);
}

std::string BestCheckpointKeeper::Continues(const std::filesystem::path& record, int64_t step) {
  std::error_code error;
  if (!fs::is_regular_file(fs::symlink_status(record, error)) ||
      fs::file_size(record, error) > kMaxRecordBytes) {
    return "not a record (a regular file of at most 4096 bytes)";
  }
  std::ifstream in(record);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  polytrain::v1::BestCheckpoint earlier;
  google::protobuf::TextFormat::Parser parser;
  QuietErrors quiet;
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFromString(text, &earlier)) return "not a BestCheckpoint in text format";
  if (earlier.metric() != metric_) {
    return absl::StrCat("it is by ", earlier.metric(), ", this run's keep_best_by is ", metric_);
  }
  const std::optional<int64_t> named_step = CheckpointStep(earlier.path());
  if (!named_step.has_value() || *named_step != earlier.step() || !std::isfinite(earlier.value())) {
    return "its path, step or value is not a checkpoint's";
  }
  if (earlier.step() > step) {
    return absl::StrCat("its step ", earlier.step(), " is past the one this run starts from, ",
                        step);
  }
  if (!fs::is_regular_file(fs::symlink_status(fs::path(dir_) / earlier.path(), error))) {
    return absl::StrCat("no checkpoint file ", earlier.path(), " is there");
  }
  best_ = std::move(earlier);
  return "";
}

void BestCheckpointKeeper::Evaluated(int64_t step, const std::map<std::string, double>& metrics) {
  if (metric_.empty()) return;
  evaluated_step_ = step;
  auto value = metrics.find(metric_);
  evaluated_has_metric_ = value != metrics.end();
  evaluated_value_ = evaluated_has_metric_ ? value->second : 0.0;
  Score();
}

void BestCheckpointKeeper::Saved(const std::string& path, int64_t step) {
  if (metric_.empty()) return;
  saved_name_ = fs::path(path).filename().string();
  saved_step_ = step;
  Score();
}

void BestCheckpointKeeper::Score() {
  if (saved_step_ < 0 || saved_step_ != evaluated_step_ || !evaluated_has_metric_ ||
      !std::isfinite(evaluated_value_)) {
    return;
  }
  // Scored once: a second evaluation of the same step (none in a run) changes nothing.
  if (best_.path() == saved_name_ && best_.step() == saved_step_) return;
  if (!best_.path().empty() &&
      !RanksBefore(evaluated_value_, best_.value(), LowerIsBetter(metric_))) {
    return;
  }
  best_.set_path(saved_name_);
  best_.set_step(saved_step_);
  best_.set_metric(metric_);
  best_.set_value(evaluated_value_);
  Record();
  PruneCheckpoints(dir_, keep_last_, best_.path());  // the former best, if it is not a newest
}

void BestCheckpointKeeper::Record() {
  std::string text;
  google::protobuf::TextFormat::PrintToString(best_, &text);
  const fs::path record = fs::path(dir_) / kBestCheckpointRecord;
  if (absl::Status s = ReplaceFileWhole(record.string(), text, /*durable=*/true); !s.ok()) {
    // The file is kept all the same; only a --resume loses track of it.
    spdlog::warn("{}: cannot record the best checkpoint: {}", record.string(),
                 std::string(s.message()));
  }
}

}  // namespace polytrain
