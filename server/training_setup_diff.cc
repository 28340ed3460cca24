#include "server/training_setup_diff.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace polytrain {
namespace {

using google::protobuf::util::MessageDifferencer;

// Collects the top-level field of each difference.
class TopLevelFields : public MessageDifferencer::Reporter {
 public:
  void ReportAdded(const google::protobuf::Message&, const google::protobuf::Message&,
                   const std::vector<MessageDifferencer::SpecificField>& path) override {
    Add(path);
  }
  void ReportDeleted(const google::protobuf::Message&, const google::protobuf::Message&,
                     const std::vector<MessageDifferencer::SpecificField>& path) override {
    Add(path);
  }
  void ReportModified(const google::protobuf::Message&, const google::protobuf::Message&,
                      const std::vector<MessageDifferencer::SpecificField>& path) override {
    Add(path);
  }
  std::set<int> numbers;

 private:
  void Add(const std::vector<MessageDifferencer::SpecificField>& path) {
    if (!path.empty() && path.front().field != nullptr) {
      numbers.insert(path.front().field->number());
    }
  }
};

// `spec` as trained: a constant schedule without warm-up is no schedule.
polytrain::v1::JobSpec AsTrained(polytrain::v1::JobSpec spec) {
  const polytrain::v1::ScheduleSpec& schedule = spec.schedule();
  if (schedule.kind_case() != polytrain::v1::ScheduleSpec::kStep &&
      schedule.kind_case() != polytrain::v1::ScheduleSpec::kCosine &&
      schedule.warmup_steps() == 0) {
    spec.clear_schedule();
  }
  return spec;
}

}  // namespace

std::vector<std::string> TrainingSetupDifferences(const polytrain::v1::JobSpec& a,
                                                  const polytrain::v1::JobSpec& b,
                                                  bool same_steps_trained) {
  const google::protobuf::Descriptor& spec = *polytrain::v1::JobSpec::descriptor();
  TopLevelFields reporter;
  MessageDifferencer differencer;
  differencer.ReportDifferencesTo(&reporter);
  for (const char* ignored :
       {"name", "labels", "loss", "seed", "log_every_steps", "eval", "checkpoint", "device",
        "threads", "priority", "max_attempts", "time_limit_seconds", "replicas", "deterministic"}) {
    differencer.IgnoreField(spec.FindFieldByName(ignored));
  }
  if (same_steps_trained) {
    differencer.IgnoreField(spec.FindFieldByName("epochs"));
    differencer.IgnoreField(spec.FindFieldByName("max_steps"));
  }
  differencer.Compare(AsTrained(a), AsTrained(b));
  std::vector<std::string> fields;
  for (int i = 0; i < spec.field_count(); ++i) {
    if (reporter.numbers.count(spec.field(i)->number()) > 0) {
      fields.push_back(absl::StrCat("spec.", spec.field(i)->name()));
    }
  }
  return fields;
}

}  // namespace polytrain
