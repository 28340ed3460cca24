// A standalone run's best checkpoint kept by spec.checkpoint.keep_best_by in its directory:
// scored whichever of checkpoint and evaluation comes first, recorded for a --resume, and spared
// by the pruning of older checkpoints.
#include "worker/best_checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"
#include "worker/checkpoint_files.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

class BestCheckpointTest : public testing::ScratchDirTest {
 protected:
  static std::string Name(int64_t step) { return absl::StrFormat("ckpt-%012d.pt", step); }
  // A checkpoint of `step` written as SaveCheckpoint does, and told to the keeper.
  void Save(BestCheckpointKeeper& keeper, int64_t step) {
    std::ofstream(dir_ / Name(step)) << "step " << step;
    std::ofstream(dir_ / (Name(step) + ".crc32")) << "record";
    PruneCheckpoints(dir_.string(), kKeepLast, keeper.file_name());
    keeper.Saved((dir_ / Name(step)).string(), step);
  }
  std::vector<std::string> Checkpoints() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.size() == Name(0).size()) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  polytrain::v1::BestCheckpoint Recorded() const {
    std::ifstream in(dir_ / kBestCheckpointRecord);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    polytrain::v1::BestCheckpoint best;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &best)) << text;
    return best;
  }

  static constexpr int kKeepLast = 2;
};

TEST_F(BestCheckpointTest, AnOlderBestStaysBesideTheNewestAndIsRecorded) {
  BestCheckpointKeeper keeper(dir_.string(), "eval_accuracy", kKeepLast);
  keeper.Start(0);
  const double accuracies[] = {0.5, 0.9, 0.7, 0.9, 0.6};  // the earliest of equal ones stays
  for (int i = 0; i < 5; ++i) {
    const int64_t step = 10 * (i + 1);
    keeper.Evaluated(step, {{"eval_accuracy", accuracies[i]}, {"eval_loss", 1.0}});
    Save(keeper, step);
  }
  EXPECT_EQ(keeper.best().path(), Name(20));
  EXPECT_EQ(keeper.best().step(), 20);
  EXPECT_EQ(keeper.best().value(), 0.9);
  EXPECT_EQ(Checkpoints(), (std::vector<std::string>{Name(20), Name(40), Name(50)}));
  EXPECT_EQ(Recorded().SerializeAsString(), keeper.best().SerializeAsString());
}

TEST_F(BestCheckpointTest, ACheckpointBeforeItsEvaluationIsScoredByItAndTheFormerBestGoes) {
  BestCheckpointKeeper keeper(dir_.string(), "eval_loss", kKeepLast);  // lower is better
  keeper.Start(0);
  keeper.Evaluated(10, {{"eval_loss", 0.5}});
  Save(keeper, 10);
  Save(keeper, 20);  // not evaluated: not scored
  Save(keeper, 30);  // the run's last: written before its final evaluation
  EXPECT_EQ(keeper.best().step(), 10);
  EXPECT_EQ(Checkpoints(), (std::vector<std::string>{Name(10), Name(20), Name(30)}));
  keeper.Evaluated(30, {{"eval_loss", 0.25}});
  EXPECT_EQ(keeper.best().step(), 30);
  EXPECT_EQ(Checkpoints(), (std::vector<std::string>{Name(20), Name(30)}));  // 10 went
  EXPECT_EQ(Recorded().step(), 30);
}

TEST_F(BestCheckpointTest, ANanOrAMissingMetricIsNeverBest) {
  BestCheckpointKeeper keeper(dir_.string(), "val_accuracy", kKeepLast);
  keeper.Start(0);
  keeper.Evaluated(10, {{"val_accuracy", std::numeric_limits<double>::quiet_NaN()}});
  Save(keeper, 10);
  keeper.Evaluated(20, {{"eval_accuracy", 0.9}});
  Save(keeper, 20);
  EXPECT_TRUE(keeper.best().path().empty());
  EXPECT_FALSE(fs::exists(dir_ / kBestCheckpointRecord));
}

TEST_F(BestCheckpointTest, AResumeGoesOnWithTheRecordOnlyWhereItStillHolds) {
  {
    BestCheckpointKeeper first(dir_.string(), "eval_accuracy", kKeepLast);
    first.Start(0);
    first.Evaluated(10, {{"eval_accuracy", 0.9}});
    Save(first, 10);
    first.Evaluated(20, {{"eval_accuracy", 0.5}});
    Save(first, 20);
  }
  BestCheckpointKeeper resumed(dir_.string(), "eval_accuracy", kKeepLast);
  resumed.Start(20);
  EXPECT_EQ(resumed.best().step(), 10);
  resumed.Evaluated(30, {{"eval_accuracy", 0.9}});  // equal: the earlier stays best
  Save(resumed, 30);
  EXPECT_EQ(resumed.best().step(), 10);
  EXPECT_EQ(Checkpoints(), (std::vector<std::string>{Name(10), Name(20), Name(30)}));

  BestCheckpointKeeper other_metric(dir_.string(), "eval_loss", kKeepLast);
  other_metric.Start(30);
  EXPECT_TRUE(other_metric.best().path().empty());
  EXPECT_FALSE(fs::exists(dir_ / kBestCheckpointRecord));  // removed, not left to mislead
}

TEST_F(BestCheckpointTest, ARecordPastTheResumedStepOrOfAGoneOrForeignFileIsDropped) {
  const auto write_record = [this](const std::string& text) {
    std::ofstream(dir_ / kBestCheckpointRecord) << text;
  };
  std::ofstream(dir_ / Name(4)) << "x";
  std::ofstream(dir_ / Name(10)) << "x";
  fs::create_directory(dir_ / Name(3));
  const std::string metric = R"( metric: "eval_accuracy" value: 0.9)";
  const auto at = [&metric](const std::string& path, int step) {
    return "path: \"" + path + "\" step: " + std::to_string(step) + metric;
  };
  for (const std::string& record :
       {at(Name(10), 10),        // past the step resumed from (5)
        at(Name(2), 2),          // its file is gone
        at(Name(3), 3),          // not a file
        at("../" + Name(4), 4),  // not a file of this directory
        at(".", 4), at("..", 4), at(kBestCheckpointRecord, 4),
        at(Name(10), 4),  // a step its name does not carry
        "path: \"" + Name(4) + "\" step: 4 metric: \"eval_accuracy\" value: inf",
        "path: \"" + Name(4) + "\" step: 4 metric: \"eval_loss\" value: 0.5",
        std::string("not a record"), std::string(5000, ' ')}) {
    write_record(record);
    BestCheckpointKeeper keeper(dir_.string(), "eval_accuracy", kKeepLast);
    keeper.Start(5);
    EXPECT_TRUE(keeper.best().path().empty()) << record;
    EXPECT_FALSE(fs::exists(dir_ / kBestCheckpointRecord)) << record;
  }
  write_record(at(Name(10), 10));
  BestCheckpointKeeper keeper(dir_.string(), "eval_accuracy", kKeepLast);
  keeper.Start(10);
  EXPECT_EQ(keeper.best().path(), Name(10));

  // A fifo would block a reader: not read (nor would a directory in its place be).
  fs::remove(dir_ / kBestCheckpointRecord);
  ASSERT_EQ(mkfifo((dir_ / kBestCheckpointRecord).c_str(), 0600), 0);
  BestCheckpointKeeper after_fifo(dir_.string(), "eval_accuracy", kKeepLast);
  after_fifo.Start(10);
  EXPECT_TRUE(after_fifo.best().path().empty());
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / kBestCheckpointRecord)));
}

TEST_F(BestCheckpointTest, AnEarlierRunsLeftoverRecordFileGoes) {
  std::ofstream(dir_ / (std::string(kBestCheckpointRecord) + ".tmp-123-0")) << "half";
  BestCheckpointKeeper keeper(dir_.string(), "eval_accuracy", kKeepLast);
  keeper.Start(0);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(BestCheckpointTest, NoMetricKeepsAndRecordsNothing) {
  BestCheckpointKeeper keeper(dir_.string(), "", kKeepLast);
  keeper.Start(0);
  keeper.Evaluated(10, {{"eval_accuracy", 0.9}});
  Save(keeper, 10);
  EXPECT_TRUE(keeper.best().path().empty());
  EXPECT_FALSE(fs::exists(dir_ / kBestCheckpointRecord));
}

}  // namespace
}  // namespace polytrain
