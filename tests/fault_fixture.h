// The fault tests' fixture (fault_test.cc: workers cut off, killed or stopped; and
// fault_coordinator_test.cc: the coordinator killed and restarted): a service on loopback, and
// checks that a job's stored history is that of an uninterrupted run, that acknowledged jobs
// are stored, and which checkpoints the coordinator holds.
#ifndef POLYTRAIN_TESTS_FAULT_FIXTURE_H_
#define POLYTRAIN_TESTS_FAULT_FIXTURE_H_

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "testing/service_fixture.h"

namespace polytrain::fault_test {

class FaultTest : public testing::ServiceFixture {
 protected:
  // Runs `spec` again, uninterrupted and ahead of anything queued, and expects `id`'s stored
  // history to be the same points: every step and kind once, nothing missing, the evaluations
  // equal to the last bit. Timings (elapsed, throughput) differ between runs and are not
  // compared.
  void ExpectSameHistoryAsAnUninterruptedRun(const std::string& id, v1::JobSpec spec) {
    spec.set_name("uninterrupted-" + spec.name());
    spec.set_priority(100);
    v1::Job reference;
    ASSERT_TRUE(Submit(spec, &reference).ok());
    ASSERT_TRUE(WaitForState(reference.id(), v1::JOB_STATE_SUCCEEDED, 180));
    const std::vector<v1::MetricPoint> actual = Metrics(id), expected = Metrics(reference.id());
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      ASSERT_EQ(std::make_tuple(actual[i].kind(), actual[i].step(), actual[i].epoch()),
                std::make_tuple(expected[i].kind(), expected[i].step(), expected[i].epoch()))
          << "point " << i;
      for (const char* key : {"loss", "eval_loss", "eval_accuracy"}) {
        auto a = actual[i].values().find(key), e = expected[i].values().find(key);
        ASSERT_EQ(a == actual[i].values().end(), e == expected[i].values().end()) << key;
        if (a != actual[i].values().end()) {
          EXPECT_EQ(a->second, e->second) << key << " at step " << actual[i].step();
        }
      }
    }
    EXPECT_EQ(Get(id).final_metrics().at("eval_loss"),
              Get(reference.id()).final_metrics().at("eval_loss"));
  }

  // A worker, with or without --checkpoint_dir, stopped with SIGTERM while training: see
  // fault_test.cc.
  void DrainHandsTheJobOverAtACheckpoint(bool checkpoint_dir);

  // Every id is a stored job (through the current coordinator).
  void ExpectAllStored(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      grpc::ClientContext context;
      v1::GetJobRequest request;
      request.set_id(id);
      v1::Job stored;
      ASSERT_TRUE(stub_->GetJob(&context, request, &stored).ok()) << id << " lost";
    }
  }

  // The checkpoints of `id` stored on the coordinator, oldest first.
  std::vector<std::string> StoredCheckpoints(const std::string& id) {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "artifacts" / id, error)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("ckpt-", 0) == 0 && name.size() == 20) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

}  // namespace polytrain::fault_test

#endif  // POLYTRAIN_TESTS_FAULT_FIXTURE_H_
