// The fixture of the in-process tests of data-parallel jobs (gang_scheduling_test.cc,
// gang_recovery_test.cc): gangs submitted through the ClientApi, their ranks' assignments read
// from the recording channels, a rank's failure reported as its worker would.
#ifndef POLYTRAIN_SERVER_GANG_TEST_FIXTURE_H_
#define POLYTRAIN_SERVER_GANG_TEST_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {

class GangSchedulingTest : public CoordinatorTest {
 public:
  using Job = polytrain::v1::Job;
  using JobState = polytrain::v1::JobState;

 protected:
  void OpenWithBackfill(double seconds) {
    core_.reset();
    Scheduler::Options options;
    options.lease_seconds = 10;
    options.lease_thread = false;
    options.gang_backfill_seconds = seconds;
    Open(options);
  }

  Job SubmitGang(const std::string& name, int replicas, int max_attempts = 0) {
    polytrain::v1::SubmitJobRequest request = Request(name);
    request.mutable_spec()->set_replicas(replicas);
    request.mutable_spec()->set_batch_size(2 * replicas);
    request.mutable_spec()->set_max_attempts(max_attempts);
    absl::StatusOr<Job> job = api_->SubmitJob(request, kAdmin);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }

  // The (rank, world size) of each assignment of `job` a channel got.
  static std::vector<std::pair<int, int>> Ranks(const RecordingChannel& channel,
                                                const std::string& job_id) {
    std::vector<std::pair<int, int>> ranks;
    for (const auto& m : channel.sent) {
      if (m.has_assignment() && m.assignment().job().id() == job_id) {
        ranks.emplace_back(m.assignment().rank(), m.assignment().world_size());
      }
    }
    return ranks;
  }

  void Fail(int64_t session, const Job& job, const std::string& error, bool gang_lost) {
    FailAttempt(session, job, Get(job.id()).attempts(), error, gang_lost);
  }
  // As Fail, for `attempt` (one that may have ended already).
  void FailAttempt(int64_t session, const Job& job, int attempt, const std::string& error,
                   bool gang_lost) {
    polytrain::v1::WorkerMessage message;
    message.mutable_failed()->set_job_id(job.id());
    message.mutable_failed()->set_attempt(attempt);
    message.mutable_failed()->set_error(error);
    message.mutable_failed()->set_gang_lost(gang_lost);
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }

  JobState StateOf(const Job& job) { return State(job.id()); }
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_GANG_TEST_FIXTURE_H_
