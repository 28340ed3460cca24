// A run resumed from its checkpoint directory (--resume, a requeued attempt): what it refuses
// (a checkpoint past its end, one written for other data under the same spec) and what its
// --metrics_out file holds after (the points up to the checkpoint, each once).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "worker/byo_test_fixture.h"
#include "worker/metric_sink.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::Train;

class ResumeTest : public ByoFixture {
 protected:
  static JobSpec Job(const std::string& data) {
    return Spec(
        "name: 'resume' model { torchscript { path: 'mlp.pt' } } dataset { tensors { "
        "path: '" +
        data +
        "' } } loss { poly1 { epsilon: 1 } } optimizer { sgd { momentum: 0.9 } "
        "learning_rate: 0.05 } epochs: 2 batch_size: 64 seed: 5 log_every_steps: 10");
  }
};

TEST_F(ResumeTest, ACheckpointPastTheRunsEndIsRefused) {
  TrainerOptions options = Options();
  options.checkpoint_dir = TempDir("past-the-end");
  JobSpec spec = Job("vectors.pt");
  ASSERT_TRUE(Train(spec, options).ok());  // 2 epochs of 19 steps: a checkpoint at step 38
  options.resume = true;
  spec.set_epochs(1);
  absl::StatusOr<TrainingSummary> refused = Train(spec, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "--resume: the newest checkpoint in " + options.checkpoint_dir +
                " is at step 38, past this run's end (19 steps): give spec.epochs or "
                "spec.max_steps that reach it, or another --checkpoint_dir");
  spec.set_epochs(2);  // at its end exactly: finished again, nothing trained
  absl::StatusOr<TrainingSummary> again = Train(spec, options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->resumed_from_step, 38);
  EXPECT_EQ(again->trained_samples, 0);
  fs::remove_all(options.checkpoint_dir);
}

// The spec names the same file; what it holds changed (fewer rows): its epochs and order would
// not be the checkpoint's.
TEST_F(ResumeTest, ACheckpointWrittenForOtherDataUnderTheSameSpecIsRefused) {
  const std::string root = TempDir("changed-data");
  fs::create_directories(root);
  fs::copy_file(*root_ + "/mlp.pt", root + "/mlp.pt");
  fs::copy_file(*root_ + "/vectors.pt", root + "/data.pt");
  TrainerOptions options;
  options.data_root = root;
  options.checkpoint_dir = root + "/checkpoints";
  options.stop_after_steps = 5;
  JobSpec spec = Job("data.pt");
  spec.mutable_checkpoint()->set_every_steps(5);
  ASSERT_TRUE(Train(spec, options).ok());
  fs::copy_file(*root_ + "/vectors_half.pt", root + "/data.pt",
                fs::copy_options::overwrite_existing);
  options.resume = true;
  options.stop_after_steps = 0;
  absl::StatusOr<TrainingSummary> refused = Train(spec, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find(
                "ckpt-000000000005.pt: a checkpoint of another run: it was written for 1200 "
                "training rows and this run's data has 600 (the data changed under the same "
                "spec.dataset); give another --checkpoint_dir"),
            std::string::npos)
      << refused.status();
  fs::remove_all(root);
}

std::vector<std::string> StepsAndKinds(const std::string& path) {
  std::vector<std::string> held;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    MetricPoint point;
    if (!google::protobuf::util::JsonStringToMessage(line, &point).ok()) continue;
    held.push_back(std::to_string(point.step()) +
                   (point.kind() == MetricPoint::KIND_EVAL ? "e" : "t") +
                   (point.values().count("mark") != 0 ? "'" : ""));
  }
  return held;
}

MetricPoint Point(int64_t step, MetricPoint::Kind kind, bool marked = false) {
  MetricPoint point;
  point.set_step(step);
  point.set_kind(kind);
  if (marked) (*point.mutable_values())["mark"] = 1;
  return point;
}

// The points a run wrote past the checkpoint it is resumed from go, as the service's store
// deletes them; one emitted again at or before it (the final evaluation of a run resumed at its
// end) replaces its twin.
TEST(JsonLinesMetricSinkTest, AResumedRunKeepsThePointsUpToItsCheckpointEachOnce) {
  const std::string path = TempDir("metrics") + ".jsonl";
  {
    absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> first =
        JsonLinesMetricSink::Create(path, /*append=*/false);
    ASSERT_TRUE(first.ok());
    for (int64_t step : {1, 2, 3, 4}) (*first)->Emit(Point(step, MetricPoint::KIND_TRAIN));
    (*first)->Emit(Point(4, MetricPoint::KIND_EVAL));
  }
  std::ofstream(path, std::ios::app) << "not a point\n";  // kept: not ours to judge
  absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> resumed =
      JsonLinesMetricSink::Create(path, /*append=*/true);
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE((*resumed)->ResumeAt(2).ok());
  (*resumed)->Emit(Point(2, MetricPoint::KIND_EVAL));
  (*resumed)->Emit(Point(2, MetricPoint::KIND_EVAL, /*marked=*/true));
  (*resumed)->Emit(Point(3, MetricPoint::KIND_TRAIN, /*marked=*/true));
  resumed->reset();
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_NE(text.str().find("not a point\n"), std::string::npos);
  std::vector<std::string> expected = {"1t", "2t", "2e'", "3t'"};
  EXPECT_EQ(StepsAndKinds(path), expected);

  // Through a link (/dev/stdout redirected to a file, say): never rewritten, since the sink would
  // go on writing to the file the rename replaced; appended to, and said.
  const std::string link = path + ".link";
  fs::remove(link);
  fs::create_symlink(path, link);
  absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> linked =
      JsonLinesMetricSink::Create(link, /*append=*/true);
  ASSERT_TRUE(linked.ok());
  const absl::Status through_link = (*linked)->ResumeAt(1);
  EXPECT_EQ(through_link.code(), absl::StatusCode::kFailedPrecondition);
  (*linked)->Emit(Point(9, MetricPoint::KIND_TRAIN));
  linked->reset();
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(StepsAndKinds(path), (std::vector<std::string>{"1t", "2t", "2e'", "3t'", "9t"}));
  fs::remove(link);
  fs::remove(path);

  // Not a regular file (a pipe, a terminal, /dev/null): never read back, only appended to.
  absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> device =
      JsonLinesMetricSink::Create("/dev/null", /*append=*/true);
  ASSERT_TRUE(device.ok());
  const absl::Status refused = (*device)->ResumeAt(5);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("/dev/null: not a plain regular file"), std::string::npos)
      << refused;
  (*device)->Emit(Point(5, MetricPoint::KIND_EVAL));  // appended, nothing read back
}

}  // namespace
}  // namespace polytrain
