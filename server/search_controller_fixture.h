// The fixture of the loss-search tests: a coordinator core (CoordinatorTest) with helpers to
// submit a successive-halving search and to report a trial's segments as its worker would.
#ifndef POLYTRAIN_SERVER_SEARCH_CONTROLLER_FIXTURE_H_
#define POLYTRAIN_SERVER_SEARCH_CONTROLLER_FIXTURE_H_

#include <string>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"
#include "server/search_controller.h"

namespace polytrain {

class SearchControllerTest : public CoordinatorTest {
 protected:
  // Six given losses (poly1 with epsilon 0..5), rungs of 1, 3 and 9 epochs, eta 3.
  static polytrain::v1::SubmitSweepRequest Halving(int top_k, int seeds) {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request("search").spec();
    request.mutable_base()->clear_loss();
    request.mutable_base()->set_epochs(9);
    for (int e = 0; e < 6; ++e) request.add_losses()->mutable_poly1()->set_epsilon(e);
    request.set_seeds(seeds);
    auto* search = request.mutable_search();
    search->set_strategy(polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING);
    search->set_min_resource(1);
    search->set_top_k(top_k);
    return request;
  }
  polytrain::v1::SubmitSweepResponse SubmitSweep(const polytrain::v1::SubmitSweepRequest& r) {
    absl::StatusOr<polytrain::v1::SubmitSweepResponse> response = api_->SubmitSweep(r, kAdmin);
    EXPECT_TRUE(response.ok()) << response.status();
    return *response;
  }
  // The worker's report of a segment that ended at its rung (paused) or at the end.
  void Report(int64_t session, const std::string& job_id, double accuracy, bool paused,
              int64_t steps) {
    polytrain::v1::WorkerMessage message;
    message.mutable_finished()->set_job_id(job_id);
    message.mutable_finished()->set_attempt(Get(job_id).attempts());
    (*message.mutable_finished()->mutable_final_metrics())["eval_accuracy"] = accuracy;
    message.mutable_finished()->set_paused(paused);
    message.mutable_finished()->set_steps(steps);
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }
  // An evaluation the worker reports mid-run (the ranking's mean_best is the best of these).
  void Evaluated(int64_t session, const std::string& job_id, int64_t step, double accuracy) {
    polytrain::v1::WorkerMessage message;
    message.mutable_metrics()->set_job_id(job_id);
    message.mutable_metrics()->set_attempt(Get(job_id).attempts());
    polytrain::v1::MetricPoint* point = message.mutable_metrics()->add_points();
    point->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
    point->set_step(step);
    (*point->mutable_values())["eval_accuracy"] = accuracy;
    ASSERT_TRUE(protocol_->Handle(session, message).ok());
  }
  polytrain::v1::Sweep GetSweep(const std::string& id) {
    polytrain::v1::GetSweepRequest request;
    request.set_id(id);
    absl::StatusOr<polytrain::v1::Sweep> sweep = api_->GetSweep(request, kAdmin);
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return *sweep;
  }
  // The newest assignment of `job_id` on `channel`.
  static const polytrain::v1::Job* Assigned(const RecordingChannel& channel,
                                            const std::string& job_id) {
    const polytrain::v1::Job* last = nullptr;
    for (const auto& m : channel.sent) {
      if (m.has_assignment() && m.assignment().job().id() == job_id) last = &m.assignment().job();
    }
    return last;
  }
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SEARCH_CONTROLLER_FIXTURE_H_
