// Bring your own model and data: TorchScript modules and torch.save'd tensor files, made at
// test time by Debian's python3-torch (worker/testdata/make_byo_fixtures.py), trained, resumed,
// and refused with clear errors when they are wrong.
#include <torch/script.h>

#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "worker/byo_test_fixture.h"
#include "worker/tensor_file.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;
using testing_util::ExpectResumeIsExact;
using testing_util::ExpectSameWeights;
using testing_util::ModelState;
using testing_util::Train;

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

}  // namespace
}  // namespace polytrain
