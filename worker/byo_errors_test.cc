// Bring your own model and data, wrong: a model or tensor file that cannot train is a clear
// error naming the field or key before training starts, and a damaged file is an error, never a
// crash.
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "worker/byo_test_fixture.h"
#include "worker/tensor_file.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::JobSpec;
using testing_util::TempDir;
using testing_util::Train;

TEST_F(ByoTest, AWrongModelIsAClearErrorBeforeTraining) {
  EXPECT_EQ(
      CreateError(Job("torchscript { path: 'missing.pt' }")).find("spec.model.torchscript.path: "),
      0u);
  EXPECT_EQ(CreateError(Job("torchscript { path: 'not_torchscript.pt' }"))
                .find("spec.model.torchscript.path: not a TorchScript file (torch.jit.save): "),
            0u);
  // A module whose own code throws as it loads is TorchScript: its error is said as such.
  const std::string on_load = CreateError(Job("torchscript { path: 'raises_on_load.pt' }"));
  EXPECT_EQ(on_load.find("spec.model.torchscript.path: loading the module ran its code "
                         "(__setstate__), which threw: "),
            0u)
      << on_load;
  EXPECT_LT(on_load.find("this module refuses to be restored"),
            on_load.find("(TorchScript's traceback"))
      << on_load;
  // A parameter whose record was cut short is refused before anything reads or writes it.
  EXPECT_EQ(CreateError(Job("torchscript { path: 'short_record_model.pt' }")),
            "spec.model.torchscript.path: 0.weight claims 400 bytes of storage, more than the "
            "file holds for it (a damaged file)");
  // An op of a newer PyTorch is named as a version mismatch.
  const std::string newer = CreateError(Job("torchscript { path: 'newer_op.pt' }"));
  EXPECT_EQ(
      newer.find("spec.model.torchscript.path: the model calls an op this worker's LibTorch "), 0u)
      << newer;
  EXPECT_NE(newer.find("aten::relu_from_a_newer_torch"), std::string::npos) << newer;
  EXPECT_EQ(CreateError(Job("torchscript { path: 'seven_classes.pt' }")),
            "spec.model.torchscript: forward on a batch [2, 20] returned [2, 7]; the loss needs "
            "[2, 5] logits (the data has 5 classes or labels)");
  EXPECT_EQ(CreateError(Job("torchscript { path: 'wrong_input.pt' }"))
                .find("spec.model.torchscript: forward on a batch [2, 20] threw: "),
            0u);
  // TorchScript's error first, its traceback after; a dtype that is not the data's is named.
  const std::string float64 = CreateError(Job("torchscript { path: 'float64_mlp.pt' }"));
  EXPECT_EQ(float64.find("spec.model.torchscript: forward on a batch [2, 20] threw (the model's "
                         "parameters are float64 and the batch float32: save the model after "
                         "model.float()): RuntimeError: mat1 and mat2 must have the same dtype"),
            0u)
      << float64;
  EXPECT_NE(float64.find("\n(TorchScript's traceback, most recent call last:\n"), std::string::npos)
      << float64;
  EXPECT_EQ(CreateError(Job("torchscript { path: 'pair.pt' }")),
            "spec.model.torchscript: forward on a batch [2, 20] returned a Tuple, not a tensor of "
            "logits");
  EXPECT_EQ(CreateError(Job("torchscript { path: 'frozen.pt' }")),
            "spec.model.torchscript: the module has no trainable parameters (none requires a "
            "gradient)");
  // What the probe cannot see is caught at the first step that shows it.
  absl::StatusOr<TrainingSummary> narrow =
      Train(Job("torchscript { path: 'narrow_in_training.pt' }"), Options());
  EXPECT_EQ(narrow.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(narrow.status().message(),
            "spec.model.torchscript: forward on a batch [64, 20] returned [64, 3]; the loss needs "
            "[64, 5] logits (the data has 5 classes or labels)");
  // The model's own error at a training step is an error in the spec, naming the field.
  absl::StatusOr<TrainingSummary> raises =
      Train(Job("torchscript { path: 'raises_in_training.pt' }"), Options());
  EXPECT_EQ(raises.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(raises.status().message().find("spec.model.torchscript: forward on a batch [64, 20] "
                                           "threw: "),
            0u)
      << raises.status();
  EXPECT_NE(raises.status().message().find("this model fails in training mode"), std::string::npos)
      << raises.status();
  // A loss that is not finite before any update is not blamed on the learning rate.
  absl::StatusOr<TrainingSummary> infinite =
      Train(Job("torchscript { path: 'infinite_weight.pt' init: INIT_FROM_MODULE }"), Options());
  EXPECT_EQ(infinite.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(infinite.status().message(),
            "the loss is nan at step 1 (epoch 0), before any update of this run: the model's "
            "outputs on finite data are not finite or too large for the loss (check spec.model's "
            "weights)");
  absl::StatusOr<TrainingSummary> nan =
      Train(Job("torchscript { path: 'nan_in_evaluation.pt' }"), Options());
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(nan.status().message().find("evaluation diverged: eval_loss is nan at step "), 0u)
      << nan.status();
  // At the end of epoch 0, numbered as every output numbers it (not the epoch that follows).
  EXPECT_NE(nan.status().message().find(" (epoch 0): the model's outputs are not finite"),
            std::string::npos)
      << nan.status();
  // A checkpoint of another model is not loaded into this one.
  const std::string dir = TempDir("other_model");
  TrainerOptions options = Options();
  options.checkpoint_dir = dir;
  ASSERT_TRUE(Train(Job("torchscript { path: 'scaled.pt' }"), options).ok());
  options.resume = true;
  absl::StatusOr<TrainingSummary> wrong = Train(Job("torchscript { path: 'mlp.pt' }"), options);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("a checkpoint of another run: its spec.model differs"),
            std::string::npos)
      << wrong.status();
  fs::remove_all(dir);
}

TEST_F(ByoTest, AWrongTensorFileNamesTheKey) {
  const std::string model = "mlp { hidden: [8] }";
  const std::string f = "spec.dataset.tensors.path: ";
  EXPECT_EQ(CreateError(Job(model, "list.pt")),
            f + "holds a GenericList; expected a dict of tensors (torch.save({\"train_x\": ..., "
                "...}))");
  EXPECT_EQ(CreateError(Job(model, "extra_key.pt")),
            f + "unknown key 'extra'; the keys are train_x, train_y, test_x, test_y, val_x, "
                "val_y");
  EXPECT_EQ(CreateError(Job(model, "int_samples.pt")),
            f + "train_x is Int; expected a floating dtype or uint8");
  EXPECT_EQ(CreateError(Job(model, "float_labels.pt")),
            f + "train_y is Float [1200]; expected integer class indices [N] or multi-label "
                "targets [N, labels]");
  EXPECT_EQ(CreateError(Job(model, "short_labels.pt")),
            f + "train_y is [1199]; expected one label per sample: [1200] (or multi-label "
                "targets: [1200, labels])");
  EXPECT_EQ(CreateError(Job(model, "unknown_class.pt")),
            f + "test_y holds class 9 but train_y names 5 classes (0 to 4)");
  EXPECT_EQ(CreateError(Job(model, "other_shape.pt")),
            f + "test_x samples are [10] but train_x's are [20]");
  EXPECT_EQ(CreateError(Job(model, "nan.pt")), f + "train_x holds NaN or infinite values");
  // A file's classes are known only here: an ignored class outside them would ignore nothing.
  JobSpec ignoring = Job(model);
  ignoring.mutable_loss()->set_ignore_index(-100);
  EXPECT_EQ(CreateError(ignoring),
            "spec.loss.ignore_index: -100 is no class of the dataset (its labels are in [0, 5)), "
            "so it would ignore nothing; leave it unset for that");
  ignoring.mutable_loss()->set_ignore_index(4);
  EXPECT_EQ(CreateError(ignoring), "no error");
  EXPECT_EQ(CreateError(Job(model, "float32_overflow.pt")),
            f + "train_x holds values beyond float32's range (3.40282e+38), the precision the "
                "worker trains in");
  EXPECT_EQ(CreateError(Job(model, "no_test_y.pt")), f + "no test_y");
  // LibTorch 1.13 cannot read a dict of one key; 2.x can, and finds the keys missing.
  const std::string one_key = CreateError(Job(model, "one_key.pt"));
  EXPECT_TRUE(one_key == f + "no train_y" ||
              one_key == f + "holds a dict of one item (at the top or inside), which this "
                             "worker's LibTorch cannot read; a tensors file is one dict of "
                             "tensors with train_x, train_y, test_x and test_y")
      << one_key;
  EXPECT_EQ(CreateError(Job(model, "five_dims.pt")),
            f + "train_x is [1200, 20, 1, 1, 1]; expected [samples, 1 to 3 sample dimensions]");
  EXPECT_EQ(CreateError(Job(model, "one_class.pt")),
            f + "train_y names 1 classes; expected 2 to 100000");
  EXPECT_EQ(CreateError(Job(model, "not_tensor.pt")), f + "train_x is a Int, not a tensor");
  // A view standing for far more values than it stores, and a sample of no values.
  EXPECT_EQ(CreateError(Job(model, "expanded.pt")),
            f + "train_x is [1200, 20] over only 20 stored values (an expanded view?); save it "
                "with .contiguous()");
  EXPECT_EQ(CreateError(Job(model, "zero_width.pt")),
            f + "train_x is [1200, 0]; a sample dimension of 0 holds nothing");
  // A crafted storage claiming more than the file holds is refused before any value is read.
  EXPECT_EQ(CreateError(Job(model, "lying_storage.pt")).find(f + "train_x claims 400000000 bytes"),
            0u)
      << CreateError(Job(model, "lying_storage.pt"));
  // A deflated file holds more than its size: taken, up to what its records inflate to.
  EXPECT_EQ(CreateError(Job(model, "deflated.pt")), "no error");
  // So is one claiming more than its own record holds, in a file padded to be large enough.
  EXPECT_EQ(CreateError(Job(model, "short_record.pt")),
            f + "train_x claims 96000 bytes of storage, more than the file holds for it (a damaged "
                "file)");
  // A TorchScript model named as the data holds a data.pkl too; it is said to be a model.
  EXPECT_EQ(CreateError(Job(model, "mlp.pt")),
            f + "not a file torch.save wrote: a TorchScript module (torch.jit.save); the tensors "
                "file is a dict of tensors saved with torch.save({\"train_x\": ..., ...})");
  EXPECT_EQ(CreateError(Job(model, "numpy_arrays.pt")),
            f + "holds numpy arrays, which LibTorch cannot read: save torch tensors "
                "(torch.from_numpy(array)) in the dict");
  EXPECT_EQ(CreateError(Job(model, "legacy.pt")),
            f + "torch.save's legacy format (before torch 1.6, or "
                "_use_new_zipfile_serialization=False); save it again with torch.save and the "
                "default zip format");
  // A record that would inflate to 80 MiB from a few kilobytes is refused before it is read, and
  // a view whose byte count overflows int64 is named, not reported with LibTorch's backtrace.
  EXPECT_EQ(CreateError(Job(model, "inflating.pt")),
            f + "not a file torch.save wrote: its compressed records would inflate to more than "
                "67108864 bytes");
  EXPECT_EQ(
      CreateError(Job(model, "huge_view.pt")).find(f + "train_x is [64, 268435456, 268435456]"), 0u)
      << CreateError(Job(model, "huge_view.pt"));
  JobSpec split_twice = Job(model, "images.pt");
  split_twice.mutable_dataset()->set_validation_fraction(0.1);
  EXPECT_EQ(CreateError(split_twice),
            "spec.dataset.validation_fraction: the tensor file has a validation split of its own "
            "(val_x, val_y)");
  // A split that holds no sample is refused, not trained without one (vectors.pt: 1200 rows).
  JobSpec empty_split = Job(model);
  empty_split.mutable_dataset()->set_validation_fraction(0.0008);
  EXPECT_EQ(CreateError(empty_split),
            "spec.dataset.validation_fraction: 0.0008 of 1200 training samples is less than one "
            "sample: no validation split; raise it or use more samples");
}

// Damaged files (truncated, bytes overwritten) are errors, never a crash: 300 of them, drawn
// from a fixed seed.
TEST_F(ByoTest, DamagedTensorFilesAreErrorsNotCrashes) {
  std::ifstream in(*root_ + "/images.pt", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::mt19937 random(12345);
  const std::string damaged = *root_ + "/damaged.pt";
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    if (i % 3 == 0) {
      bytes.resize(random() % bytes.size());
    } else {
      for (int flips = 1 + random() % 8; flips > 0; --flips) {
        bytes[random() % bytes.size()] = static_cast<char>(random());
      }
    }
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
    Dataset data;
    const absl::Status status = ReadTensorFile(damaged, "f", &data);
    if (!status.ok()) {
      ++refused;
      EXPECT_EQ(status.message().substr(0, 3), "f: ") << status;
    }
  }
  EXPECT_GE(refused, 100);  // every truncation at least
}

}  // namespace
}  // namespace polytrain
