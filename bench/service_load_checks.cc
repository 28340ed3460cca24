#include "bench/service_load_checks.h"

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "grpcpp/create_channel.h"
#include "polytrain/v1/coordinator.grpc.pb.h"

namespace polytrain {

bool IsTerminal(polytrain::v1::JobState state) {
  return state == polytrain::v1::JOB_STATE_SUCCEEDED || state == polytrain::v1::JOB_STATE_FAILED ||
         state == polytrain::v1::JOB_STATE_CANCELLED;
}

void AddStoreChecks(const std::string& address, const std::string& run_id,
                    const std::vector<JobRecord>& records, int acknowledged,
                    std::vector<Check>* checks) {
  std::map<std::string, polytrain::v1::Job> listed;
  int duplicates = 0;
  std::string list_error;
  auto stub = polytrain::v1::Coordinator::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  polytrain::v1::ListJobsRequest request;
  (*request.mutable_labels())[kRunLabel] = run_id;
  request.set_page_size(1000);
  do {
    polytrain::v1::ListJobsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    const grpc::Status status = stub->ListJobs(&context, request, &response);
    if (!status.ok()) {
      list_error = status.error_message();
      break;
    }
    for (const auto& job : response.jobs()) {
      if (!listed.emplace(job.id(), job).second) ++duplicates;
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  int missing = 0, not_terminal = 0, bad_attempts = 0, store_not_succeeded = 0, mismatched = 0;
  std::string example;
  for (const JobRecord& r : records) {
    if (r.id.empty()) continue;
    auto it = listed.find(r.id);
    if (it == listed.end()) {
      ++missing;
      continue;
    }
    const polytrain::v1::Job& job = it->second;
    if (!IsTerminal(job.state())) ++not_terminal;
    if (job.state() != polytrain::v1::JOB_STATE_SUCCEEDED) ++store_not_succeeded;
    if (job.attempts() != 1) {
      ++bad_attempts;
      if (example.empty()) {
        example = job.id() + " has attempts " + std::to_string(job.attempts());
      }
    }
    if (r.terminal_events > 0 && job.state() != r.watched_state) ++mismatched;
  }
  const int extra = static_cast<int>(listed.size()) - (acknowledged - missing);
  checks->push_back({"ListJobs ran", list_error.empty(), list_error});
  checks->push_back({"store holds every acknowledged job and no other",
                     missing == 0 && extra == 0 && duplicates == 0,
                     std::to_string(missing) + " missing, " + std::to_string(extra) + " extra, " +
                         std::to_string(duplicates) + " listed twice"});
  checks->push_back({"every stored job terminal and SUCCEEDED",
                     not_terminal == 0 && store_not_succeeded == 0,
                     std::to_string(not_terminal) + " not terminal, " +
                         std::to_string(store_not_succeeded) + " not succeeded"});
  checks->push_back(
      {"every stored job has attempts == 1", bad_attempts == 0,
       std::to_string(bad_attempts) + " jobs" + (example.empty() ? "" : ", e.g. " + example)});
  checks->push_back({"stored state == watched terminal state", mismatched == 0,
                     std::to_string(mismatched) + " jobs"});
}

void AddCounterChecks(int port, const Counters& before, int acknowledged,
                      std::vector<Check>* checks) {
  Counters after;
  const bool read = ReadCounters(port, &after);
  checks->push_back({"/metrics readable", read, "no answer"});
  if (read) {
    auto delta = [](double a, double b) { return static_cast<long long>(a - b); };
    auto check_eq = [&](const std::string& what, long long got, long long want) {
      checks->push_back(
          {what + " == " + std::to_string(want), got == want, "got " + std::to_string(got)});
    };
    check_eq("polytrain_job_submissions_total delta", delta(after.submissions, before.submissions),
             acknowledged);
    check_eq("polytrain_scheduling_latency_seconds_count delta (assignments)",
             delta(after.scheduled, before.scheduled), acknowledged);
    check_eq("polytrain_jobs{succeeded|failed|cancelled} delta",
             delta(after.terminal, before.terminal), acknowledged);
    check_eq("polytrain_job_transitions_total{to=succeeded|failed|cancelled} delta",
             delta(after.entered_terminal, before.entered_terminal), acknowledged);
    check_eq("polytrain_jobs{queued} delta", delta(after.queued, before.queued), 0);
    check_eq("polytrain_jobs{running} delta", delta(after.running, before.running), 0);
    check_eq("polytrain_rpc_requests_total{SubmitJob,OK} delta",
             delta(after.submit_ok, before.submit_ok), acknowledged);
  }
}

}  // namespace polytrain
