// The fixtures of the bring-your-own tests: TorchScript modules and torch.save'd tensor files,
// made once per test suite by Debian's python3-torch (worker/testdata/make_byo_fixtures.py) into a
// directory of the suite's own, which is the trainer's data root.
#ifndef POLYTRAIN_WORKER_BYO_TEST_FIXTURE_H_
#define POLYTRAIN_WORKER_BYO_TEST_FIXTURE_H_

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {

class ByoFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing_util::TempDir("byo"));
    const std::string command = std::string("/usr/bin/python3 ") + POLYTRAIN_SOURCE_DIR +
                                "/worker/testdata/make_byo_fixtures.py " + *root_;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
    root_ = nullptr;
  }

  TrainerOptions Options() const {
    TrainerOptions options;
    options.data_root = *root_;
    return options;
  }

  // Trainer::Create's error for `spec`, or "no error".
  std::string CreateError(const polytrain::v1::JobSpec& spec) const {
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, Options());
    return trainer.ok() ? "no error" : std::string(trainer.status().message());
  }

  static inline std::string* root_ = nullptr;
};

// One test suite over the fixtures (made once for it), in byo_test.cc and byo_errors_test.cc.
class ByoTest : public ByoFixture {
 protected:
  // A job on `data` (a tensor file) with `model` (a model spec's text).
  static polytrain::v1::JobSpec Job(const std::string& model,
                                    const std::string& data = "vectors.pt") {
    return testing_util::Spec(
        "name: 'byo' model { " + model + " } dataset { tensors { path: '" + data +
        "' } } loss { poly1 { epsilon: 1 } } optimizer { sgd { momentum: 0.9 } "
        "learning_rate: 0.05 } epochs: 2 batch_size: 64 seed: 5 log_every_steps: 10");
  }
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_BYO_TEST_FIXTURE_H_
