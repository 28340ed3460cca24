// WatchJob streams against a real coordinator and worker: a history longer than a page arrives
// whole and once, however the watch meets the job (before it runs, while it runs, after it
// ended); a caller's open watches are bounded; a watcher that stops reading is cut off with
// RESOURCE_EXHAUSTED instead of growing the coordinator's memory.
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/coordinator_client.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "testing/service_fixture.h"

namespace polytrain {
namespace {

using polytrain::testing::Spec;
using polytrain::testing::WaitFor;
using polytrain::v1::Job;

using Key = std::pair<int64_t, int>;  // (step, kind)

// A job of `steps` steps logging every step: more points than one history page (512).
v1::JobSpec LongJob(const std::string& name, int epochs) {
  v1::JobSpec spec = Spec(name, epochs);  // 40 steps per epoch
  spec.set_log_every_steps(1);
  return spec;
}

class WatchStreamTest : public testing::ServiceFixture {
 protected:
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> Watch(grpc::ClientContext* context,
                                                          const std::string& id) {
    v1::WatchJobRequest request;
    request.set_id(id);
    return stub_->WatchJob(context, request);
  }

  // Reads a stream to its end: the points' keys, in the order they came.
  static std::vector<Key> ReadPoints(grpc::ClientReader<v1::JobEvent>& reader,
                                     grpc::Status* status) {
    std::vector<Key> keys;
    v1::JobEvent event;
    while (reader.Read(&event)) {
      if (event.has_point()) keys.emplace_back(event.point().step(), event.point().kind());
    }
    *status = reader.Finish();
    return keys;
  }

  std::vector<Key> StoredKeys(const std::string& id) {
    std::vector<Key> keys;
    for (const v1::MetricPoint& p : Metrics(id)) keys.emplace_back(p.step(), p.kind());
    return keys;
  }
};

TEST_F(WatchStreamTest, ALongHistoryArrivesWholeAndOnceWhenEverTheWatchBegins) {
  StartCoordinator();
  Job job;
  ASSERT_TRUE(Submit(LongJob("long", 30), &job).ok());  // 1200 steps: 1230 points
  grpc::ClientContext before_context, during_context, after_context;
  auto before = Watch(&before_context, job.id());
  v1::JobEvent first;
  ASSERT_TRUE(before->Read(&first));
  EXPECT_EQ(first.job().state(), v1::JOB_STATE_QUEUED);
  StartWorker("w1");
  // Mid-run: part history, part live.
  ASSERT_TRUE(WaitFor([&] { return Metrics(job.id()).size() > 600; }));
  auto during = Watch(&during_context, job.id());
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  auto after = Watch(&after_context, job.id());

  const std::vector<Key> stored = StoredKeys(job.id());
  ASSERT_EQ(stored.size(), 1230u);
  for (auto* reader : {before.get(), during.get(), after.get()}) {
    grpc::Status status;
    const std::vector<Key> seen = ReadPoints(*reader, &status);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(seen, stored);  // every point once, in the history's order
  }
}

// A resumed watch (resume_after) gets the history after that point, in order, and the rest;
// resumed past the newest point, nothing of the history.
TEST_F(WatchStreamTest, AResumedWatchGetsOnlyTheHistoryAfterItsPoint) {
  StartCoordinator();
  StartWorker("w1");
  Job job;
  ASSERT_TRUE(Submit(LongJob("resumed", 15), &job).ok());  // 600 steps: 615 points
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  const std::vector<Key> stored = StoredKeys(job.id());
  ASSERT_GT(stored.size(), 600u);
  for (const size_t from : {size_t{0}, size_t{599}, stored.size() - 1}) {
    grpc::ClientContext context;
    v1::WatchJobRequest request;
    request.set_id(job.id());
    request.mutable_resume_after()->set_step(stored[from].first);
    request.mutable_resume_after()->set_kind(
        static_cast<v1::MetricPoint::Kind>(stored[from].second));
    auto reader = stub_->WatchJob(&context, request);
    grpc::Status status;
    const std::vector<Key> seen = ReadPoints(*reader, &status);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(seen, std::vector<Key>(stored.begin() + from + 1, stored.end())) << from;
  }
  grpc::ClientContext context;
  v1::WatchJobRequest bad;
  bad.set_id(job.id());
  bad.mutable_resume_after()->set_step(-3);
  auto reader = stub_->WatchJob(&context, bad);
  grpc::Status status;
  ReadPoints(*reader, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "resume_after.step: must be in [0, 1000000000], got -3");
}

TEST_F(WatchStreamTest, ACallersOpenWatchesAreBounded) {
  StartCoordinator(30, {"--max_watches_per_caller", "2"});
  Job job;  // no worker: it stays queued and its watches stay open
  ASSERT_TRUE(Submit(Spec("queued"), &job).ok());
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::JobEvent>>> open;
  v1::JobEvent event;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    open.push_back(Watch(contexts.back().get(), job.id()));
    ASSERT_TRUE(open.back()->Read(&event));  // the job as it is: the watch is open
  }
  {
    grpc::ClientContext third_context;
    auto third = Watch(&third_context, job.id());
    EXPECT_FALSE(third->Read(&event));
    const grpc::Status status = third->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.error_message(),
              "at most 2 WatchJob streams at once per caller (coordinator flag "
              "--max_watches_per_caller); end one first");
  }
  // A watch that ends gives its place back.
  contexts[0]->TryCancel();
  (void)open[0]->Finish();
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    auto again = Watch(&context, job.id());
    v1::JobEvent seen;
    const bool opened = again->Read(&seen);
    context.TryCancel();
    (void)again->Finish();
    return opened;
  }));
}

TEST_F(WatchStreamTest, AWatcherThatStopsReadingIsCutOff) {
  StartCoordinator(30, {"--max_watch_backlog_bytes", "4096"});
  Job job;
  ASSERT_TRUE(Submit(LongJob("flood", 75), &job).ok());  // 3000 steps: ~400 KB of points
  // A client whose stream window stays at 64 KiB (no bandwidth probing to widen it): once it
  // holds that much unread, the coordinator's writes wait, and the job's points back up there.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                           grpc::InsecureChannelCredentials(), arguments);
  auto stub = v1::Coordinator::NewStub(channel);
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_id(job.id());
  auto slow = stub->WatchJob(&context, request);
  v1::JobEvent event;
  ASSERT_TRUE(slow->Read(&event));  // the watch is open; nothing more is read until the end
  StartWorker("w1");
  ASSERT_TRUE(WaitForState(job.id(), v1::JOB_STATE_SUCCEEDED));
  grpc::Status status;
  const std::vector<Key> seen = ReadPoints(*slow, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("this watch fell behind: more than 4096 bytes"),
            std::string::npos)
      << status.error_message();
  EXPECT_LT(seen.size(), StoredKeys(job.id()).size());
  // Watching again gives the whole history.
  grpc::ClientContext again_context;
  auto again = Watch(&again_context, job.id());
  EXPECT_EQ(ReadPoints(*again, &status), StoredKeys(job.id()));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// polyctl's watch (CoordinatorClient::Watch) resumes a watch that fell behind after what it
// passed on: each point once, the job passed on only when it changed (its labels and final
// metrics are maps, which serialize in no fixed order), and the watch ends OK with the job's end.
// One watch per caller: the resumed one may come before the coordinator freed the old one's place.
TEST_F(WatchStreamTest, PolyctlsWatchThatFellBehindResumesAndPassesEachEventOnce) {
  coordinator_log_ = (dir_ / "coordinator.log").string();
  StartCoordinator(30, {"--max_watch_backlog_bytes", "4096", "--max_watches_per_caller", "1"});
  v1::JobSpec spec = LongJob("behind", 10000);
  for (const char* key : {"team", "project", "owner", "stage"}) (*spec.mutable_labels())[key] = "x";
  Job job;
  ASSERT_TRUE(Submit(spec, &job).ok());
  StartWorker("w1");
  CoordinatorClient client("127.0.0.1:" + std::to_string(port_), ClientSecurityOptions{});
  std::vector<Key> points;
  std::vector<Job> jobs;
  bool cancelled = false;
  const absl::StatusOr<Job> final = client.Watch(job.id(), [&](const v1::JobEvent& event) {
    if (event.has_job()) jobs.push_back(event.job());
    if (event.has_point()) points.emplace_back(event.point().step(), event.point().kind());
    if (jobs.size() == 1 && points.empty()) {
      // Nothing more is read until the job made far more than 4 KiB of points (and more than
      // gRPC's windows hold in transit): the coordinator ends this watch.
      ASSERT_TRUE(WaitFor([&] { return Metrics(job.id()).size() >= 3000; }, 120));
    }
    if (points.size() == 3050 && !cancelled) {  // resumed mid-run: now let the job end
      cancelled = true;
      v1::CancelJobRequest cancel;
      cancel.set_id(job.id());
      v1::Job answer;
      grpc::ClientContext context;
      ASSERT_TRUE(stub_->CancelJob(&context, cancel, &answer).ok());
    }
  });
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->state(), v1::JOB_STATE_CANCELLED);
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(points, StoredKeys(job.id()));  // each once, in order, none missing
  ASSERT_FALSE(jobs.empty());
  EXPECT_EQ(jobs.back().state(), v1::JOB_STATE_CANCELLED);
  for (size_t i = 1; i < jobs.size(); ++i) {
    EXPECT_FALSE(google::protobuf::util::MessageDifferencer::Equals(jobs[i - 1], jobs[i]))
        << "job event " << i << " repeats the one before";
  }
  // It fell behind: the coordinator said so (a watch that never fell behind proves nothing).
  std::ifstream log(coordinator_log_);
  const std::string logged((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(logged.find("a watch of job " + job.id() + " fell behind"), std::string::npos);
}

}  // namespace
}  // namespace polytrain
