// retention_scan: what a retention pass (--delete_ended_jobs_after_days) reads to find the jobs
// past the retention, side by side on one store of ended jobs: every ended job's record, a page
// of 1000 at a time, parsed for its end_time (how passes read before schema 9), against the
// end-time index (JobStore::JobsEndedBefore).
//
//   retention_scan --db FILE [--jobs 100000] [--expired_percent 1] [--repeats 5]
//
// FILE is made anew. Prints the median milliseconds of each way and their ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/median_millis.h"
#include "google/protobuf/util/time_util.h"
#include "server/sqlite_job_store.h"

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;
using polytrain::v1::Job;

// Exits when a read found other than the expected jobs.
void CheckFound(size_t found, size_t expected) {
  if (found == expected) return;
  std::fprintf(stderr, "retention_scan: found %zu expired jobs, expected %zu\n", found, expected);
  std::exit(1);
}

int Main(int argc, char** argv) {
  CLI::App app{"retention_scan: a retention pass's read, by record scan and by end-time index"};
  std::string path;
  int jobs = 100000, repeats = 5;
  double expired_percent = 1;
  app.add_option("--db", path, "SQLite file to make (replaced)")->required();
  app.add_option("--jobs", jobs, "ended jobs in the store")->check(CLI::Range(1000, 10000000));
  app.add_option("--expired_percent", expired_percent, "of them past the retention")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--repeats", repeats, "reads of each way (the median is printed)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "retention_scan: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  // Jobs as a coordinator stores them: created queued (1000 a transaction), then each ended in
  // an update of its own, the i-th at i ms.
  const auto fill_start = Clock::now();
  for (int begin = 0; begin < jobs; begin += 1000) {
    std::vector<Job> batch;
    for (int i = begin; i < std::min(jobs, begin + 1000); ++i) {
      Job job;
      job.mutable_spec()->set_name("job-" + std::to_string(i));
      job.mutable_spec()->mutable_loss()->mutable_poly1()->set_epsilon(1);
      job.set_state(polytrain::v1::JOB_STATE_QUEUED);
      batch.push_back(std::move(job));
    }
    std::vector<bool> created;
    absl::StatusOr<std::vector<Job>> stored = (*store)->CreateJobs(std::move(batch), &created);
    if (!stored.ok()) return 1;
    for (Job& job : *stored) {
      const int i = std::stoi(job.spec().name().substr(4));
      job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
      *job.mutable_end_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(i);
      if (!(*store)->UpdateJob(job).ok()) return 1;
    }
  }
  const double fill_seconds = std::chrono::duration<double>(Clock::now() - fill_start).count();
  const int64_t cutoff = static_cast<int64_t>(jobs * expired_percent / 100);
  const size_t expected = static_cast<size_t>(cutoff);

  const auto expect_found = [expected](size_t n) { CheckFound(n, expected); };
  const double scan = bench::MedianMillis(
      repeats,
      [&]() -> size_t {
        JobFilter filter;
        filter.states = {polytrain::v1::JOB_STATE_SUCCEEDED, polytrain::v1::JOB_STATE_FAILED,
                         polytrain::v1::JOB_STATE_CANCELLED, polytrain::v1::JOB_STATE_STOPPED};
        filter.page_size = 1000;
        size_t found = 0;
        do {
          absl::StatusOr<JobPage> page = (*store)->ListJobs(filter);
          if (!page.ok()) std::exit(1);
          for (const Job& job : page->jobs) {
            if (google::protobuf::util::TimeUtil::TimestampToMilliseconds(job.end_time()) <
                cutoff) {
              ++found;
            }
          }
          filter.page_token = page->next_page_token;
        } while (!filter.page_token.empty());
        return found;
      },
      expect_found);
  const double index = bench::MedianMillis(
      repeats,
      [&]() -> size_t {
        absl::StatusOr<std::vector<std::string>> ids = (*store)->JobsEndedBefore(cutoff);
        if (!ids.ok()) std::exit(1);
        return ids->size();
      },
      expect_found);
  std::printf("store: %d ended jobs (made in %.1f s), %zu past the retention (%.3g%%)\n", jobs,
              fill_seconds, expected, expired_percent);
  std::printf("every ended record, pages of 1000: %10.2f ms (median of %d)\n", scan, repeats);
  std::printf("end-time index (JobsEndedBefore):  %10.2f ms (median of %d)\n", index, repeats);
  std::printf("ratio scan / index: %.1fx\n", scan / std::max(index, 1e-6));
  return 0;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
