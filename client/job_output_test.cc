// What polyctl prints for a job: the states a user reads it in, a job queued or running again
// after a lost attempt included.
#include "client/job_output.h"

#include "absl/strings/str_cat.h"
#include "client/comparison_output.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

std::string Printed(const Job& job) {
  testing::internal::CaptureStdout();
  PrintJob(job);
  return testing::internal::GetCapturedStdout();
}

Job MakeJob(polytrain::v1::JobState state, int attempts, const std::string& worker,
            const std::string& error) {
  Job job;
  job.set_id("job-0123456789ab");
  job.mutable_spec()->set_name("mlp");
  job.set_state(state);
  job.set_attempts(attempts);
  job.set_worker(worker);
  job.set_error(error);
  return job;
}

TEST(PrintJobTest, ARunningJobSaysWhereItsNewestPointIs) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 1, "w1", "");
  job.mutable_spec()->set_epochs(5);
  polytrain::v1::MetricPoint point;
  point.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point.set_step(120);
  point.set_epoch(1);
  point.set_epoch_progress(0.4);
  point.set_elapsed_seconds(12.3);
  (*point.mutable_values())["loss"] = 0.53125;
  (*point.mutable_values())["accuracy"] = 0.8125;
  (*point.mutable_values())["samples_per_second"] = 2300.4;
  auto printed = [&](const polytrain::v1::MetricPoint* latest) {
    testing::internal::CaptureStdout();
    PrintLatestPoint(job, latest);
    return testing::internal::GetCapturedStdout();
  };
  EXPECT_EQ(printed(&point),
            "  progress: step 120, epoch 1 of 0-4 (40% of it), 12 s into the attempt: train loss "
            "0.5312 accuracy 0.8125, 2300 samples/s\n");
  job.mutable_spec()->set_epochs(0);
  job.mutable_spec()->set_max_steps(300);
  point.set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
  point.mutable_values()->clear();
  (*point.mutable_values())["eval_loss"] = 0.25;
  EXPECT_EQ(printed(&point),
            "  progress: step 120 of 300, epoch 1 (40% of it), 12 s into the attempt: eval loss "
            "0.2500 accuracy -\n");
  EXPECT_EQ(printed(nullptr), "  progress: no metric reported yet\n");
}

// A requeued job's newest point is its last attempt's until the new one reports (probe CU: "5 s
// into the attempt" of an attempt 2 s old).
TEST(PrintJobTest, AnEarlierAttemptsPointIsNotShownAsTheNewOnes) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 2, "w2", "");
  polytrain::v1::MetricPoint point;
  point.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point.set_step(250);
  point.set_elapsed_seconds(5);
  auto printed = [&] {
    testing::internal::CaptureStdout();
    PrintLatestPoint(job, &point);
    return testing::internal::GetCapturedStdout();
  };
  job.set_resumed_from_step(250);  // the point at the step the attempt resumed from
  EXPECT_EQ(printed(),
            "  progress: attempt 2 has reported no point yet (the newest, at step 250, is an "
            "earlier attempt's)\n");
  job.set_resumed_from_step(200);  // the new attempt's own point
  EXPECT_EQ(printed().rfind("  progress: step 250, epoch 0", 0), 0u) << printed();
}

TEST(PrintJobTest, AFailedJobSaysWhyOnItsLine) {
  EXPECT_EQ(Printed(MakeJob(polytrain::v1::JOB_STATE_FAILED, 1, "w1", "training diverged")),
            "job-0123456789ab mlp: failed (attempts 1, worker w1, training diverged)\n");
  // A multi-line error stays under its job's line: no line of it passes for polyctl's own.
  EXPECT_EQ(Printed(MakeJob(polytrain::v1::JOB_STATE_FAILED, 1, "w1",
                            "boom\njob-0123456789ab mlp: succeeded\x1b[31m")),
            "job-0123456789ab mlp: failed (attempts 1, worker w1, boom\n"
            "    job-0123456789ab mlp: succeeded\\x1b[31m)\n");
}

// A cancel that lost the race is said, not hidden behind a plain "succeeded".
TEST(PrintJobTest, AJobThatEndedBeforeItsCancelReachedItSaysSo) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_SUCCEEDED, 1, "w1", "");
  job.set_cancel_requested(true);
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: succeeded, before the cancel asked for reached it (attempts 1, "
            "worker w1)\n");
  job.set_state(polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: running, cancel requested (attempts 1, worker w1)\n");
}

TEST(PrintJobTest, AJobQueuedAgainShowsItsLastAttemptAsPast) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_QUEUED, 1, "w1", "lease expired on worker w1");
  job.set_waiting_for("no worker is connected");
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: queued (attempts 1, last on w1)\n"
            "  attempt 1 ended: lease expired on worker w1\n"
            "  waiting: no worker is connected\n");
}

TEST(PrintJobTest, AJobRunningAgainNamesTheAttemptThatEnded) {
  EXPECT_EQ(Printed(MakeJob(polytrain::v1::JOB_STATE_RUNNING, 2, "w2", "lease expired")),
            "job-0123456789ab mlp: running (attempts 2, worker w2)\n"
            "  attempt 1 ended: lease expired\n");
}

TEST(PrintJobTest, AnAttemptThatResumedSaysFromWhichStep) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 2, "w2", "lease expired");
  job.set_resumed_from_step(1600);
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: running (attempts 2, worker w2)\n"
            "  attempt 1 ended: lease expired\n"
            "  attempt 2 resumed from step 1600 (a stored checkpoint)\n");
}

TEST(PrintJobTest, AJobKeepingItsBestCheckpointShowsItAndHowToFetchIt) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 1, "w1", "");
  job.mutable_best_checkpoint()->set_step(1400);
  job.mutable_best_checkpoint()->set_metric("val_accuracy");
  job.mutable_best_checkpoint()->set_value(0.87121);
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: running (attempts 1, worker w1)\n"
            "  best checkpoint: step 1400, val_accuracy 0.8712 (polyctl checkpoint "
            "job-0123456789ab --best)\n");
}

TEST(PrintJobTest, AGangQueuedAgainListsItsPreviousAttemptsRanks) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_QUEUED, 1, "w1", "rank 1 lost");
  job.mutable_spec()->set_batch_size(64);
  job.mutable_spec()->set_replicas(2);
  job.add_rank_workers("w1");
  job.add_rank_workers("w2");
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: queued (attempts 1, last on w1)\n"
            "  attempt 1 ended: rank 1 lost\n"
            "  2 replicas, global batch 64 (32 per replica), attempt 1:\n"
            "    rank 0 on w1\n"
            "    rank 1 on w2\n");
}

// The job's error is its own end; each attempt that ended before it is listed with its cause.
TEST(PrintJobTest, AFailedJobListsWhyEachEarlierAttemptEnded) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_FAILED, 3, "w3",
                    "lease expired on worker w3 (attempt 3); no attempts left of 3");
  const struct {
    int attempt;
    const char* worker;
    int64_t start, end, resumed, steps;
    const char* reason;
  } earlier[] = {{1, "w1", 100, 131, 0, 400, "lease expired on worker w1 (attempt 1)"},
                 {2, "w2", 140, 150, 400, 420, "worker w2 came back without attempt 2"}};
  for (const auto& e : earlier) {
    polytrain::v1::EndedAttempt* ended = job.add_ended_attempts();
    ended->set_attempt(e.attempt);
    ended->add_workers(e.worker);
    ended->mutable_start_time()->set_seconds(e.start);
    ended->mutable_end_time()->set_seconds(e.end);
    ended->set_resumed_from_step(e.resumed);
    ended->set_steps(e.steps);
    ended->set_reason(e.reason);
  }
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: failed (attempts 3, worker w3, lease expired on worker w3 "
            "(attempt 3); no attempts left of 3)\n"
            "  attempt 1 ended after 31 s at step 400 on w1: lease expired on worker w1 (attempt "
            "1)\n"
            "  attempt 2 ended after 10 s at step 420 on w2 (resumed from step 400): worker w2 "
            "came back without attempt 2\n");
  // Queued again: the newest ended attempt is the job's error, said once.
  job.set_state(polytrain::v1::JOB_STATE_QUEUED);
  job.set_attempts(2);
  job.set_error(earlier[1].reason);
  EXPECT_EQ(Printed(job),
            "job-0123456789ab mlp: queued (attempts 2, last on w3)\n"
            "  attempt 1 ended after 31 s at step 400 on w1: lease expired on worker w1 (attempt "
            "1)\n"
            "  attempt 2 ended after 10 s at step 420 on w2 (resumed from step 400): worker w2 "
            "came back without attempt 2\n");
}

// At the record's limit, the list says earlier attempts are not kept.
TEST(PrintJobTest, AFullRecordOfEndedAttemptsSaysEarlierOnesAreNotKept) {
  Job job = MakeJob(polytrain::v1::JOB_STATE_QUEUED, 23, "w", "given back");
  for (int attempt = 4; attempt <= 23; ++attempt) {
    polytrain::v1::EndedAttempt* ended = job.add_ended_attempts();
    ended->set_attempt(attempt);
    ended->add_workers("w");
    ended->set_reason("given back");
  }
  const std::string printed = Printed(job);
  EXPECT_NE(printed.find("  (the newest 20 ended attempts; earlier ones are not kept)\n"
                         "  attempt 4 ended after 0 s at step 0 on w: given back\n"),
            std::string::npos)
      << printed;
  job.mutable_ended_attempts()->RemoveLast();
  EXPECT_EQ(Printed(job).find("not kept"), std::string::npos);
  // Twenty from the first: none was left out.
  for (int i = 0; i < job.ended_attempts_size(); ++i)
    job.mutable_ended_attempts(i)->set_attempt(i + 1);
  job.add_ended_attempts()->set_attempt(20);
  EXPECT_EQ(Printed(job).find("not kept"), std::string::npos);
}

TEST(PrintJobTest, ADivergedLossFitsItsColumn) {
  EXPECT_EQ(Fixed(2.864721431870701e23), "2.865e+23");  // not 24 digits
  EXPECT_EQ(Fixed(999999.5), "999999.5000");
  EXPECT_EQ(Fixed(NAN), "-");
}

TEST(WatchPrinterTest, AGangQueuedAgainNamesItsWorkersAsPast) {
  polytrain::v1::JobEvent event;
  *event.mutable_job() = MakeJob(polytrain::v1::JOB_STATE_QUEUED, 1, "w3", "rank 1 lost its gang");
  event.mutable_job()->add_rank_workers("w3");
  event.mutable_job()->add_rank_workers("w1");
  WatchPrinter printer(false);
  testing::internal::CaptureStdout();
  printer.Print(event);
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "job-0123456789ab mlp: queued (last on w3, w1) — rank 1 lost its gang\n");
  event.mutable_job()->set_state(polytrain::v1::JOB_STATE_RUNNING);
  event.mutable_job()->set_rank_workers(0, "w2");
  testing::internal::CaptureStdout();
  printer.Print(event);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "job-0123456789ab mlp: running on w2, w1\n");
}

TEST(WatchPrinterTest, APointWithoutARateShowsADashNotNan) {
  polytrain::v1::JobEvent event;
  polytrain::v1::MetricPoint& point = *event.mutable_point();
  point.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point.set_step(7);
  point.set_epoch_progress(0.5);
  (*point.mutable_values())["loss"] = 0.25;
  for (const bool terminal : {false, true}) {
    WatchPrinter printer(terminal);
    testing::internal::CaptureStdout();
    printer.Print(event);
    const std::string printed = testing::internal::GetCapturedStdout();
    EXPECT_NE(printed.find("- samples/s"), std::string::npos) << printed;
    EXPECT_EQ(printed.find("nan"), std::string::npos) << printed;
  }
  (*point.mutable_values())["samples_per_second"] = 1234567.4;
  WatchPrinter printer(false);
  testing::internal::CaptureStdout();
  printer.Print(event);
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "  train step 7 epoch 0 (50%): loss 0.2500 accuracy - 1234567 samples/s\n");
}

// On a terminal: a job of max_steps alone shows its progress in steps and no count of epochs.
TEST(WatchPrinterTest, TheProgressLineCountsWhicheverBudgetEndsTheJob) {
  polytrain::v1::JobEvent state;
  state.mutable_job()->set_id("job-0123456789ab");
  state.mutable_job()->mutable_spec()->set_name("steps");
  state.mutable_job()->mutable_spec()->set_epochs(0);
  state.mutable_job()->mutable_spec()->set_max_steps(200);
  state.mutable_job()->set_state(polytrain::v1::JOB_STATE_RUNNING);
  polytrain::v1::JobEvent event;
  polytrain::v1::MetricPoint& point = *event.mutable_point();
  point.set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
  point.set_step(50);
  point.set_epoch(1);
  point.set_epoch_progress(0.5);
  WatchPrinter printer(true);
  testing::internal::CaptureStdout();
  printer.Print(state);
  printer.Print(event);
  std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find(" 25% step 50 epoch 1 loss"), std::string::npos) << printed;
  state.mutable_job()->mutable_spec()->set_epochs(4);  // 1.5 of 4 epochs: further than 50/200
  WatchPrinter both(true);
  testing::internal::CaptureStdout();
  both.Print(state);
  both.Print(event);
  printed = testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find(" 38% step 50 epoch 1 of 0-3 loss"), std::string::npos) << printed;
}

TEST(PrintComparisonTest, AMissingValueIsAnEmptyCsvFieldAndAJsonNull) {
  polytrain::v1::CompareJobsResponse table;
  auto* row = table.add_losses();
  row->set_loss_name("poly1(e=1)");
  row->set_runs(0);
  row->set_mean(NAN);
  row->set_std(NAN);
  row->set_ci95_low(NAN);
  row->set_ci95_high(NAN);
  row->set_p_value(NAN);
  row->set_mean_best(NAN);
  row->set_mean_ece(NAN);
  testing::internal::CaptureStdout();
  PrintComparison(table, "csv", /*per_job=*/false);
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "loss,runs,mean,std,ci95_low,ci95_high,p_value,baseline,mean_best,mean_ece\n"
            "poly1(e=1),0,,,,,,false,,\n");
  testing::internal::CaptureStdout();
  PrintComparison(table, "json", /*per_job=*/false);
  const std::string json = testing::internal::GetCapturedStdout();
  EXPECT_NE(json.find(R"("mean":null)"), std::string::npos) << json;
  EXPECT_EQ(json.find("NaN"), std::string::npos) << json;
}

TEST(PrintComparisonTest, OneRunShowsNoSpreadInTheTable) {
  polytrain::v1::CompareJobsResponse table;
  auto* row = table.add_losses();
  row->set_loss_name("ce");
  row->set_runs(1);
  row->set_mean(0.875);
  row->set_std(NAN);  // as the reply gives it for one run
  row->set_ci95_low(NAN);
  row->set_ci95_high(NAN);
  row->set_baseline(true);
  row->set_mean_best(0.9);
  row->set_mean_ece(0.05);
  testing::internal::CaptureStdout();
  PrintComparison(table, "table", /*per_job=*/false);
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("0.8750        -  -"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("0.0000"), std::string::npos) << printed;
}

// Grouped: the label's value leads each row under the label's key, and names each curve.
TEST(PrintComparisonTest, GroupedRowsLeadWithTheirValue) {
  polytrain::v1::CompareJobsResponse table;
  table.set_metric("eval_accuracy");
  table.set_baseline_loss("ce");
  table.set_group_by("lr");
  for (const char* lr : {"0.1", "0.01"}) {
    auto* row = table.add_losses();
    row->set_loss_name("ce");
    row->set_group(lr);
    row->set_runs(1);
    row->set_baseline(true);
    auto* job = table.add_jobs();
    job->set_job_id(absl::StrCat("job-", lr));
    job->set_loss_name("ce");
    job->set_group(lr);
    auto* curve = table.add_curves();
    curve->set_job_id(job->job_id());
    curve->set_loss_name("ce");
    curve->add_eval_steps(1);
    curve->add_eval_values(0.5);
  }
  testing::internal::CaptureStdout();
  PrintComparison(table, "csv", /*per_job=*/false);
  const std::string csv = testing::internal::GetCapturedStdout();
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "group,loss,runs,mean,std,ci95_low,ci95_high,p_value,baseline,mean_best,mean_ece");
  EXPECT_NE(csv.find("\n0.01,ce,1,"), std::string::npos) << csv;
  testing::internal::CaptureStdout();
  PrintComparison(table, "table", /*per_job=*/true);
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_EQ(printed.find("eval_accuracy by loss and lr (mean over seeds; p: Welch's t-test vs ce "
                         "of the same lr)\nlr       loss"),
            0u)
      << printed;
  EXPECT_NE(printed.find("\n0.01     job-0.01"), std::string::npos) << printed;
  const std::string chart = ComparisonChart(table);
  EXPECT_NE(chart.find("ce lr=0.01"), std::string::npos);
  EXPECT_NE(chart.find("ce lr=0.1"), std::string::npos);
}

TEST(PrintJobTableTest, ALongNameWidensItsColumnInsteadOfShiftingTheRow) {
  polytrain::v1::ListJobsResponse jobs;
  Job* long_one = jobs.add_jobs();
  *long_one = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 1, "w1", "");
  long_one->mutable_spec()->set_name("fashion-mnist-resnet-poly1-epsilon-2-seed-1");
  long_one->set_loss_name("poly1(e=2)");
  Job* short_one = jobs.add_jobs();
  *short_one = MakeJob(polytrain::v1::JOB_STATE_QUEUED, 0, "", "");
  short_one->set_id("job-ba9876543210");
  short_one->set_loss_name("ce");
  testing::internal::CaptureStdout();
  PrintJobTable(jobs);
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_EQ(
      printed,
      "id                 name                                        loss                     "
      "state      accuracy worker\n"
      "job-0123456789ab   fashion-mnist-resnet-poly1-epsilon-2-seed-1 poly1(e=2)               "
      "running           - w1\n"
      "job-ba9876543210   mlp                                         ce                       "
      "queued            -\n");
}

TEST(PrintJobTest, AnEndedTrialNoLongerSaysWhereItPauses) {
  Job trial = MakeJob(polytrain::v1::JOB_STATE_RUNNING, 1, "w1", "");
  (*trial.mutable_spec()->mutable_labels())["sweep"] = "sweep-0123456789ab";
  trial.mutable_search()->set_trial(4);
  trial.mutable_search()->set_pause_at_step(150);
  EXPECT_NE(Printed(trial).find("trial 4 of sweep-0123456789ab, rung 0, pauses at step 150"),
            std::string::npos);
  trial.set_state(polytrain::v1::JOB_STATE_FAILED);
  trial.set_error("lease expired on worker w1 (attempt 1); no attempts left of 1");
  const std::string printed = Printed(trial);
  EXPECT_NE(printed.find("trial 4 of sweep-0123456789ab, rung 0\n"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("pauses"), std::string::npos) << printed;
}

}  // namespace
}  // namespace polytrain
