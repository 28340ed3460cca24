// Bring your own model and data: TorchScript modules and torch.save'd tensor files, made at
// test time by Debian's python3-torch (worker/testdata/make_byo_fixtures.py), trained, resumed,
// and refused with clear errors when they are wrong.
#include <torch/script.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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
using testing_util::ExpectResumeIsExact;
using testing_util::ExpectSameWeights;
using testing_util::ModelState;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::Train;

class ByoTest : public ByoFixture {
 protected:
  // A job on `data` (a tensor file) with `model` (a model spec's text).
  static JobSpec Job(const std::string& model, const std::string& data = "vectors.pt") {
    return Spec("name: 'byo' model { " + model + " } dataset { tensors { path: '" + data +
                "' } } loss { poly1 { epsilon: 1 } } optimizer { sgd { momentum: 0.9 } "
                "learning_rate: 0.05 } epochs: 2 batch_size: 64 seed: 5 log_every_steps: 10");
  }
};

TEST_F(ByoTest, AScriptedMlpTrainsOnATensorFile) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(Job("torchscript { path: 'mlp.pt' }"), Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const std::string description = (*trainer)->Describe();
  EXPECT_NE(description.find("torchscript mlp.pt (837 parameters, 837 trained; initialised from "
                             "the seed)"),
            std::string::npos)
      << description;
  EXPECT_NE(description.find("tensors: 1200 train, 0 validation, 400 test, 5 classes"),
            std::string::npos)
      << description;
  absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->final_metrics.at("eval_accuracy"), 0.85);
}

// Tensors saved on a GPU (torch.save of .cuda() tensors) load on a worker without one.
TEST_F(ByoTest, ATensorFileSavedFromAGpuTrainsOnTheCpu) {
  {
    std::ifstream file(*root_ + "/from_gpu.pt", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)), {});
    ASSERT_NE(bytes.find("cuda:0"), std::string::npos) << "the fixture is not tagged as from a GPU";
  }
  Dataset data;
  ASSERT_TRUE(ReadTensorFile(*root_ + "/from_gpu.pt", "tensors", &data).ok());
  EXPECT_TRUE(data.train.x.device().is_cpu());  // mapped, also where a GPU is present
  EXPECT_TRUE(data.test.y.device().is_cpu());
  ModelState from_gpu, from_cpu;
  ASSERT_TRUE(Train(Job("mlp { hidden: [32] }", "from_gpu.pt"), Options(), &from_gpu).ok());
  ASSERT_TRUE(Train(Job("mlp { hidden: [32] }", "vectors.pt"), Options(), &from_cpu).ok());
  ExpectSameWeights(from_cpu, from_gpu);
}

// A model answering float16 logits trains and is evaluated in float32 (LibTorch has no CPU
// softmax for float16).
TEST_F(ByoTest, AModelWithFloat16LogitsIsEvaluated) {
  const absl::StatusOr<TrainingSummary> summary =
      Train(Job("torchscript { path: 'half_logits.pt' }"), Options());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->final_metrics.at("eval_accuracy"), 0.5);
}

// Features saved with requires_grad (the output of another model) are data like any other: the
// same weights as the plain file, with normalization and a validation split drawn from them.
TEST_F(ByoTest, SamplesSavedWithRequiresGradTrainAsData) {
  JobSpec with_grad = Job("mlp { hidden: [32] }", "requires_grad.pt");
  with_grad.mutable_dataset()->set_validation_fraction(0.2);
  with_grad.mutable_dataset()->mutable_normalize()->add_mean(0.1);
  with_grad.mutable_dataset()->mutable_normalize()->add_std(2);
  JobSpec plain = with_grad;
  plain.mutable_dataset()->mutable_tensors()->set_path("vectors.pt");
  ModelState from_grad, from_plain;
  const absl::StatusOr<TrainingSummary> summary = Train(with_grad, Options(), &from_grad);
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_TRUE(Train(plain, Options(), &from_plain).ok());
  ExpectSameWeights(from_plain, from_grad);
}

// The scripted twin of the built-in MLP, drawn from the same seed, is the same model: the same
// initial weights and, step after step, the same arithmetic.
TEST_F(ByoTest, TheScriptedTwinOfTheBuiltInMlpTrainsToTheSameWeights) {
  for (const char* file : {"mlp.pt", "traced_mlp.pt"}) {
    SCOPED_TRACE(file);
    ModelState native, scripted;
    ASSERT_TRUE(Train(Job("mlp { hidden: [32] }"), Options(), &native).ok());
    ASSERT_TRUE(
        Train(Job(std::string("torchscript { path: '") + file + "' }"), Options(), &scripted).ok());
    ExpectSameWeights(native, scripted);
  }
}

// A forward that changes its input in place changes its own copy: the splits it is evaluated on
// stay as stored (probe CI: eval_nll doubled at each evaluation, 0.47 reported for 0.52), and the
// check of a model on two samples before training changes neither those samples nor the
// model's buffers.
TEST_F(ByoTest, AForwardThatChangesItsInputInPlaceChangesNoStoredSample) {
  JobSpec spec = Job("torchscript { path: 'normalised_in_place.pt' }");
  spec.mutable_dataset()->set_validation_fraction(0.1);
  spec.mutable_eval()->set_every_steps(10);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  int calls_buffers = 0;
  for (const auto& [name, value] : (*trainer)->model().State()) {
    if (name != "calls") continue;
    ++calls_buffers;
    EXPECT_EQ(value.item<int64_t>(), 0) << "the check's call was kept";
  }
  EXPECT_EQ(calls_buffers, 1);
  absl::StatusOr<TrainingSummary> in_place = (*trainer)->Run();
  ASSERT_TRUE(in_place.ok()) << in_place.status();
  const ModelState in_place_state = (*trainer)->model().State();

  spec.mutable_model()->mutable_torchscript()->set_path("normalised.pt");
  ModelState out_of_place_state;
  absl::StatusOr<TrainingSummary> out_of_place = Train(spec, Options(), &out_of_place_state);
  ASSERT_TRUE(out_of_place.ok()) << out_of_place.status();
  ExpectSameWeights(in_place_state, out_of_place_state);
  for (const char* metric : {"eval_nll", "eval_accuracy", "eval_loss", "val_nll", "val_loss"}) {
    ASSERT_TRUE(out_of_place->final_metrics.count(metric)) << metric;
    EXPECT_EQ(in_place->final_metrics.at(metric), out_of_place->final_metrics.at(metric)) << metric;
  }
}

// A weight shared by two layers is one parameter: counted once, and stepped once per step (an
// optimizer given it twice would step it twice).
TEST_F(ByoTest, ATiedWeightIsOneParameter) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(Job("torchscript { path: 'tied.pt' }"), Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  // 20 x 20 shared, then 20 x 5 + 5: 505, not 905.
  EXPECT_NE((*trainer)->Describe().find("(505 parameters, 505 trained;"), std::string::npos)
      << (*trainer)->Describe();
  absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->final_metrics.at("eval_accuracy"), 0.8);
}

TEST_F(ByoTest, FromModuleKeepsTheSavedWeightsAndFromSeedRedrawsThem) {
  torch::jit::Module saved = torch::jit::load(*root_ + "/mlp.pt");
  const torch::Tensor saved_weight = saved.attr("1").toModule().attr("weight").toTensor();
  for (const bool from_module : {true, false}) {
    SCOPED_TRACE(from_module);
    absl::StatusOr<std::unique_ptr<Trainer>> trainer =
        Trainer::Create(Job(from_module ? "torchscript { path: 'mlp.pt' init: INIT_FROM_MODULE }"
                                        : "torchscript { path: 'mlp.pt' }"),
                        Options());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    const ModelState state = (*trainer)->model().State();
    ASSERT_EQ(state[0].first, "1.weight");
    EXPECT_EQ(torch::equal(state[0].second, saved_weight), from_module);
    EXPECT_EQ((*trainer)->Describe().find("saved weights") != std::string::npos, from_module);
  }
}

TEST_F(ByoTest, ACustomParameterIsLeftAsSavedAndNamed) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(Job("torchscript { path: 'scaled.pt' }"), Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_NE((*trainer)->Describe().find("; left as saved: scale)"), std::string::npos)
      << (*trainer)->Describe();
  for (const auto& [name, tensor] : (*trainer)->model().State()) {
    if (name == "scale") {
      EXPECT_TRUE(torch::equal(tensor, torch::full({5}, 0.5)));
    }
  }
}

TEST_F(ByoTest, FromSeedKeepsFrozenLayersAsSavedAndZeroesAnEmbeddingsPaddingRow) {
  absl::StatusOr<std::unique_ptr<Trainer>> frozen =
      Trainer::Create(Job("torchscript { path: 'frozen_backbone.pt' }"), Options());
  ASSERT_TRUE(frozen.ok()) << frozen.status();
  EXPECT_NE((*frozen)->Describe().find(
                "; left as saved: backbone.weight, backbone.bias, norm.weight, norm.bias)"),
            std::string::npos)
      << (*frozen)->Describe();
  std::map<std::string, torch::Tensor> state;
  for (const auto& [name, tensor] : (*frozen)->model().State()) state[name] = tensor;
  EXPECT_TRUE(torch::equal(state.at("backbone.weight"), torch::full({8, 20}, 0.5)));
  EXPECT_TRUE(torch::equal(state.at("backbone.bias"), torch::full({8}, 0.25)));
  EXPECT_TRUE(torch::equal(state.at("norm.running_mean"), torch::full({8}, 0.3)));

  absl::StatusOr<std::unique_ptr<Trainer>> padded =
      Trainer::Create(Job("torchscript { path: 'padded.pt' }"), Options());
  ASSERT_TRUE(padded.ok()) << padded.status();
  std::map<std::string, torch::Tensor> padded_state;
  for (const auto& [name, tensor] : (*padded)->model().State()) padded_state[name] = tensor;
  const torch::Tensor embedding = padded_state.at("embedding.weight");
  EXPECT_TRUE(torch::equal(embedding[0], torch::zeros({4})));  // as PyTorch's reset_parameters
  EXPECT_GT(embedding[1].abs().sum().item<float>(), 0.0f);     // the other rows drawn
  EXPECT_FALSE(torch::equal(embedding[1], torch::full({4}, 7.0)));
}

TEST_F(ByoTest, DropLastDropsTheShortBatchABatchNormModelCannotTrainOn) {
  // 1200 training samples in batches of 109: ten and a batch of one, which BatchNorm refuses.
  JobSpec spec = Job("torchscript { path: 'bn_mlp.pt' }");
  spec.set_batch_size(109);
  spec.set_epochs(1);
  absl::StatusOr<std::unique_ptr<Trainer>> kept = Trainer::Create(spec, Options());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ((*kept)->steps_per_epoch(), 12);
  absl::StatusOr<TrainingSummary> failed = (*kept)->Run();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find(
                "(a batch of one sample: spec.drop_last drops an epoch's short last batch)"),
            std::string::npos)
      << failed.status();

  spec.set_drop_last(true);
  absl::StatusOr<std::unique_ptr<Trainer>> dropped = Trainer::Create(spec, Options());
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ((*dropped)->steps_per_epoch(), 11);
  absl::StatusOr<TrainingSummary> summary = (*dropped)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->steps, 11);

  spec.set_batch_size(1201);  // every batch would be dropped
  EXPECT_EQ(CreateError(spec),
            "spec.drop_last: the training split holds 1200 samples, fewer than batch_size (1201): "
            "every batch would be dropped");
}

TEST_F(ByoTest, ResumingABatchNormCnnWithDropoutIsExact) {
  JobSpec spec = Job("torchscript { path: 'bn_cnn.pt' }", "images.pt");
  spec.mutable_checkpoint()->set_every_steps(3);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_NE((*trainer)->Describe().find("tensors: 200 train, 50 validation, 50 test, 3 classes"),
            std::string::npos)
      << (*trainer)->Describe();
  bool has_running_mean = false;
  for (const auto& [name, tensor] : (*trainer)->model().State()) {
    has_running_mean |= name == "features.1.running_mean";
  }
  EXPECT_TRUE(has_running_mean);  // buffers are part of the state a checkpoint keeps
  ExpectResumeIsExact(spec, 5, Options());
}

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
