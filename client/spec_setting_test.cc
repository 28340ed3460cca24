#include "client/spec_setting.h"

#include "gtest/gtest.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;

TEST(SpecSettingTest, ReplacesScalarsListsMessagesAndStrings) {
  JobSpec spec;
  spec.set_batch_size(32);
  spec.mutable_model()->mutable_mlp()->add_hidden(64);
  spec.mutable_model()->mutable_mlp()->add_hidden(32);
  spec.mutable_optimizer()->mutable_sgd()->set_momentum(0.5);
  ASSERT_TRUE(ApplySettings("--set",
                            {"batch_size=128", "optimizer.learning_rate=0.01",
                             "model.mlp.hidden=[256, 128, 64]", "name=my run",
                             "optimizer.sgd={ nesterov: true }", "device=DEVICE_CPU"},
                            &spec)
                  .ok());
  EXPECT_EQ(spec.batch_size(), 128);
  EXPECT_EQ(spec.optimizer().learning_rate(), 0.01);
  EXPECT_EQ(spec.model().mlp().hidden_size(), 3);  // the whole list replaced, not appended to
  EXPECT_EQ(spec.model().mlp().hidden(0), 256);
  EXPECT_EQ(spec.name(), "my run");  // a string written bare
  EXPECT_TRUE(spec.optimizer().sgd().nesterov());
  EXPECT_EQ(spec.optimizer().sgd().momentum(), 0);  // a message field replaced whole
  EXPECT_EQ(spec.device(), polytrain::v1::DEVICE_CPU);
  ASSERT_TRUE(ApplySettings("--set", {"name=\"quoted \\\"q\\\"\""}, &spec).ok());
  EXPECT_EQ(spec.name(), "quoted \"q\"");
  // Another member of a oneof clears the one that was set.
  ASSERT_TRUE(ApplySettings("--set", {"optimizer.adam={}"}, &spec).ok());
  EXPECT_TRUE(spec.optimizer().has_adam());
  EXPECT_FALSE(spec.optimizer().has_sgd());
}

TEST(SpecSettingTest, ARefusedSettingNamesItAndChangesNothing) {
  JobSpec spec;
  spec.set_batch_size(32);
  const JobSpec before = spec;
  auto refused = [&](const std::vector<std::string>& settings) {
    const absl::Status s = ApplySettings("--set", settings, &spec);
    EXPECT_EQ(spec.SerializeAsString(), before.SerializeAsString()) << s;
    return std::string(s.message());
  };
  EXPECT_EQ(refused({"batch_size"}), "--set: expected FIELD=VALUE, got 'batch_size'");
  EXPECT_EQ(refused({"=3"}), "--set: expected FIELD=VALUE, got '=3'");
  EXPECT_EQ(refused({"epochs=2", "batch_sise=64"}).substr(0, 61),
            "--set 'batch_sise=64': JobSpec has no field 'batch_sise' (its");
  EXPECT_EQ(refused({"batch_size=big"}),
            "--set 'batch_size=big': batch_size: not a value of this field (Expected integer, "
            "got: big)");
  EXPECT_EQ(refused({"batch_size.x=1"}),
            "--set 'batch_size.x=1': batch_size is not a message field, so it has no field 'x'");
  EXPECT_EQ(refused({"optimizer.nope=1"}).substr(0, 61),
            "--set 'optimizer.nope=1': OptimizerSpec has no field 'nope' (");
  EXPECT_EQ(refused({"optimizer.learning_rate=0.1", "optimizer={ adam {} }"}),
            "--set: 'optimizer' and 'optimizer.learning_rate' both given (the message would "
            "replace the field, or the field part of it)");
  EXPECT_EQ(refused({"epochs=1", "epochs=2"}),
            "--set: 'epochs' given twice (the second would silently win)");
  EXPECT_EQ(refused({"epochs=0 batch_size: 0"}),
            "--set 'epochs=0 batch_size: 0': epochs: not a value of this field (it goes on "
            "past the value)");
  EXPECT_EQ(refused({"batch_size=1 epochs: 3"}),
            "--set 'batch_size=1 epochs: 3': batch_size: not a value of this field (it goes on "
            "past the value)");
  // Several values, as a sweep would take them: said how to train with each (probe DH).
  EXPECT_EQ(refused({"optimizer.learning_rate=0.01,0.1"}),
            "--set 'optimizer.learning_rate=0.01,0.1': optimizer.learning_rate: not a value of "
            "this field (Expected identifier, got: 0.1); it takes one value: to train with "
            "several, submit (or sweep) once per value and compare the jobs or sweeps together "
            "(polyctl compare ID...)");
}

}  // namespace
}  // namespace polytrain
