// metrics_read: what the coordinator reads from a long history, side by side on one store:
// every point parsed (how GetMetrics with max_points, and GetSweep for each of its jobs, read
// before session 49), against JobStore::GetMetricsSpread (max_points: only the points answered
// with are parsed) and JobStore::GetMetricsOfKind (GetSweep: the evaluations alone).
//
//   metrics_read --db FILE [--points 1000000] [--eval_every 50] [--max_points 200] [--repeats 5]
//
// FILE is made anew. Prints the median milliseconds of each way, their ratios, and the process's
// peak resident memory after each (the whole read runs last, so its figure is its own).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/median_millis.h"
#include "server/sqlite_job_store.h"

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;
using polytrain::v1::MetricPoint;

long PeakResidentMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;  // KiB on Linux
}

// A training point as a worker reports it: a dozen values.
MetricPoint TrainPoint(int64_t step) {
  MetricPoint point;
  point.set_kind(MetricPoint::KIND_TRAIN);
  point.set_step(step);
  point.set_epoch(static_cast<int32_t>(step / 1000));
  point.set_epoch_progress(static_cast<double>(step % 1000) / 1000);
  point.set_elapsed_seconds(step * 0.01);
  for (const char* name :
       {"loss", "accuracy", "learning_rate", "samples_per_second", "grad_norm", "eval_loss",
        "eval_nll", "eval_accuracy", "eval_ece", "val_loss", "val_accuracy", "val_ece"}) {
    (*point.mutable_values())[name] = 1.0 / static_cast<double>(step);
  }
  return point;
}

// Exits when a read lost the newest point.
void CheckNewest(const std::vector<MetricPoint>& points, int64_t newest) {
  if (!points.empty() && points.back().step() == newest) return;
  std::fprintf(stderr, "metrics_read: the newest point is missing\n");
  std::exit(1);
}

int Main(int argc, char** argv) {
  CLI::App app{"metrics_read: GetMetrics' max_points read, whole-then-thinned against spread"};
  std::string path;
  int points = 1000000, max_points = 200, repeats = 5, eval_every = 50;
  app.add_option("--db", path, "SQLite file to make (replaced)")->required();
  app.add_option("--points", points, "points in the job's history")
      ->check(CLI::Range(1000, 2000000));
  app.add_option("--max_points", max_points, "points asked for")->check(CLI::Range(2, 100000));
  app.add_option("--eval_every", eval_every, "an evaluation point every this many steps")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--repeats", repeats, "reads of each way (the median is printed)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "metrics_read: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  polytrain::v1::Job job;
  job.mutable_spec()->set_name("long");
  job.set_state(polytrain::v1::JOB_STATE_RUNNING);
  bool created = false;
  absl::StatusOr<polytrain::v1::Job> stored = (*store)->CreateJob(job, &created);
  if (!stored.ok()) return 1;
  const std::string id = stored->id();
  const auto fill_start = Clock::now();
  for (int begin = 1; begin <= points; begin += 10000) {  // batches as a worker sends them
    std::vector<MetricPoint> batch;
    for (int step = begin; step < begin + 10000 && step <= points; ++step) {
      batch.push_back(TrainPoint(step));
      if (step % eval_every == 0) {
        batch.push_back(TrainPoint(step));
        batch.back().set_kind(MetricPoint::KIND_EVAL);
      }
    }
    if (!(*store)->AddMetrics(id, batch).ok()) return 1;
  }
  const double fill_seconds = std::chrono::duration<double>(Clock::now() - fill_start).count();
  const int64_t bytes = *(*store)->MetricBytes(id);

  const auto newest = [&](const std::vector<MetricPoint>& read) { CheckNewest(read, points); };
  const double spread = bench::MedianMillis(
      repeats,
      [&] {
        absl::StatusOr<std::vector<MetricPoint>> read = (*store)->GetMetricsSpread(id, max_points);
        if (!read.ok()) std::exit(1);
        return *std::move(read);
      },
      newest);
  const long spread_peak = PeakResidentMiB();
  const double evals = bench::MedianMillis(
      repeats,
      [&] {
        absl::StatusOr<std::vector<MetricPoint>> read =
            (*store)->GetMetricsOfKind(id, MetricPoint::KIND_EVAL);
        if (!read.ok()) std::exit(1);
        return *std::move(read);
      },
      [&](const std::vector<MetricPoint>& read) {
        if (read.size() == static_cast<size_t>(points / eval_every)) return;
        std::fprintf(stderr, "metrics_read: %zu evaluation points\n", read.size());
        std::exit(1);
      });
  const long evals_peak = PeakResidentMiB();
  const double whole = bench::MedianMillis(
      repeats,
      [&] {
        absl::StatusOr<std::vector<MetricPoint>> all = (*store)->GetMetrics(id);
        if (!all.ok()) std::exit(1);
        std::vector<MetricPoint> thinned;
        const size_t n = all->size(), limit = static_cast<size_t>(max_points);
        for (size_t k = 0; k < limit && n > limit; ++k) {
          thinned.push_back((*all)[k * (n - 1) / (limit - 1)]);
        }
        return n > limit ? thinned : *std::move(all);
      },
      newest);
  const long whole_peak = PeakResidentMiB();
  std::printf(
      "store: one job, %d steps, an evaluation every %d, %.1f MiB of points (made in %.1f s); "
      "max_points %d\n",
      points, eval_every, static_cast<double>(bytes) / (1 << 20), fill_seconds, max_points);
  std::printf("spread (GetMetricsSpread):      %10.2f ms (median of %d), peak RSS %ld MiB\n",
              spread, repeats, spread_peak);
  std::printf("every point parsed, then thinned: %8.2f ms (median of %d), peak RSS %ld MiB\n",
              whole, repeats, whole_peak);
  std::printf("evaluations (GetMetricsOfKind):  %10.2f ms (median of %d), peak RSS %ld MiB\n",
              evals, repeats, evals_peak);
  std::printf("ratio whole / spread: %.1fx; whole / evaluations: %.1fx\n",
              whole / std::max(spread, 1e-6), whole / std::max(evals, 1e-6));
  return 0;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
