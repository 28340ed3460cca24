#include "worker/best_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "api/search_metric.h"
#include "common/file_sync.h"
#include "google/protobuf/text_format.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_files.h"

namespace polytrain {

namespace fs = std::filesystem;

BestCheckpointKeeper::BestCheckpointKeeper(std::string dir, std::string metric, int keep_last)
    : dir_(std::move(dir)), metric_(dir_.empty() ? "" : std::move(metric)), keep_last_(keep_last) {}

void BestCheckpointKeeper::Start(int64_t step) {
  if (dir_.empty()) return;
  const fs::path record = fs::path(dir_) / kBestCheckpointRecord;
  std::error_code error;
  if (!fs::exists(record, error)) return;
  std::ifstream in(record);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  polytrain::v1::BestCheckpoint earlier;
  const bool goes_on = !metric_.empty() &&
                       google::protobuf::TextFormat::ParseFromString(text, &earlier) &&
                       earlier.metric() == metric_ && earlier.step() <= step &&
                       earlier.path() == fs::path(earlier.path()).filename().string() &&
                       fs::exists(fs::path(dir_) / earlier.path(), error);
  if (goes_on) {
    best_ = std::move(earlier);
    return;
  }
  fs::remove(record, error);
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
