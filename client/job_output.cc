#include "client/job_output.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "cli/text_table.h"
#include "common/logging.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::MetricPoint;

double Value(const google::protobuf::Map<std::string, double>& values, const char* key) {
  auto it = values.find(key);
  return it == values.end() ? NAN : it->second;
}

// A rate in whole units ("-" where the point has none, as Fixed says it).
std::string Rate(double v) { return std::isnan(v) ? "-" : absl::StrFormat("%.0f", v); }

// One progress line, rewritten in place on a terminal.
void PrintProgress(const Job& job, const MetricPoint& p, double eval_accuracy) {
  // Training ends at whichever budget it reaches first: its epochs or its max_steps.
  const int epochs = job.spec().epochs();
  const int64_t max_steps = job.spec().max_steps();
  double done = epochs > 0 ? (p.epoch() + p.epoch_progress()) / epochs : 0;
  if (max_steps > 0) done = std::max(done, static_cast<double>(p.step()) / max_steps);
  done = std::min(1.0, done);
  const int width = 24, filled = static_cast<int>(done * width);
  const double eta = done > 0 ? p.elapsed_seconds() * (1 - done) / done : 0;
  // 0-based, as the lines of watch number it.
  const std::string epoch =
      epochs > 0 ? absl::StrCat(p.epoch(), " of 0-", epochs - 1) : absl::StrCat(p.epoch());
  std::printf(
      "\r%s [%s%s] %3.0f%% step %lld epoch %s loss %s acc %s eval %s %s "
      "samples/s ETA %.0fs\033[K",
      job.spec().name().c_str(), std::string(filled, '=').c_str(),
      std::string(width - filled, ' ').c_str(), 100 * done, static_cast<long long>(p.step()),
      epoch.c_str(), Fixed(Value(p.values(), "loss")).c_str(),
      Fixed(Value(p.values(), "accuracy")).c_str(), Fixed(eval_accuracy).c_str(),
      Rate(Value(p.values(), "samples_per_second")).c_str(), eta);
}

// A job's error (or an attempt's end) as it is shown: the lines of a multi-line one (LibTorch's
// have several) indented under the line that names it, so that none passes for a line of
// polyctl's own (probe CP: a worker's error forged one); other control characters escaped as
// in a log line.
std::string Shown(const std::string& error) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(error, '\n')) lines.push_back(OneLogLine(line));
  return absl::StrJoin(lines, "\n    ");
}

// Why each attempt that ended without ending the job ended, oldest first: the job's `error` says
// only its own end (or its latest attempt's).
void PrintEndedAttempts(const Job& job) {
  if (job.ended_attempts_size() >= kMaxEndedAttempts && job.ended_attempts(0).attempt() > 1) {
    std::printf("  (the newest %d ended attempts; earlier ones are not kept)\n",
                job.ended_attempts_size());
  }
  for (const polytrain::v1::EndedAttempt& ended : job.ended_attempts()) {
    const int64_t seconds = ended.end_time().seconds() - ended.start_time().seconds();
    std::printf("  attempt %d ended after %lld s at step %lld on %s%s: %s\n", ended.attempt(),
                static_cast<long long>(std::max<int64_t>(seconds, 0)),
                static_cast<long long>(ended.steps()), absl::StrJoin(ended.workers(), ", ").c_str(),
                ended.resumed_from_step() > 0
                    ? absl::StrCat(" (resumed from step ", ended.resumed_from_step(), ")").c_str()
                    : "",
                Shown(ended.reason()).c_str());
  }
}

}  // namespace

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

std::string Exact(double value) {
  if (std::isnan(value)) return "";
  char text[32];
  const std::to_chars_result end = std::to_chars(text, text + sizeof(text), value);
  return std::string(text, end.ptr);
}

std::string Fixed(double v, int digits) {
  if (std::isnan(v)) return "-";
  // A diverging run's loss (1e30, say) in a width a table can hold, not 30 digits.
  if (std::isfinite(v) && std::abs(v) >= 1e6) return absl::StrFormat("%.*e", digits - 1, v);
  return absl::StrFormat("%.*f", digits, v);
}

void WatchPrinter::PrintState(const Job& job) {
  if (terminal_) std::printf("\n");
  // A data-parallel job runs on several workers: all of them, rank 0 first.
  const std::string workers =
      job.rank_workers_size() > 0 ? absl::StrJoin(job.rank_workers(), ", ") : job.worker();
  // Queued or paused again, its workers are the attempt that ended: past, not where it waits.
  const bool waits = job.state() == polytrain::v1::JOB_STATE_QUEUED ||
                     job.state() == polytrain::v1::JOB_STATE_PAUSED;
  const std::string where =
      workers.empty() ? "" : (waits ? " (last on " + workers + ")" : " on " + workers);
  std::printf("%s %s: %s%s%s\n", job.id().c_str(), job.spec().name().c_str(),
              JobStateWord(job.state()).c_str(), where.c_str(),
              // Running again: the error is the previous attempt's, printed when it was queued.
              job.error().empty() || job.state() == polytrain::v1::JOB_STATE_RUNNING
                  ? ""
                  : (" — " + Shown(job.error())).c_str());
  // A queued job says what it waits for (the watch's first event carries it).
  if (!job.waiting_for().empty()) std::printf("  waiting: %s\n", job.waiting_for().c_str());
}

void WatchPrinter::Finish() {
  if (final_pending_) PrintState(job_);
  final_pending_ = false;
  std::fflush(stdout);
}

void WatchPrinter::Print(const polytrain::v1::JobEvent& event) {
  if (event.has_job()) {
    job_ = event.job();
    final_pending_ = IsFinalState(job_.state());
    if (!final_pending_) PrintState(job_);
  } else {
    const MetricPoint& p = event.point();
    if (p.kind() == MetricPoint::KIND_EVAL) eval_accuracy_ = Value(p.values(), "eval_accuracy");
    if (terminal_) {
      if (p.kind() == MetricPoint::KIND_TRAIN) PrintProgress(job_, p, eval_accuracy_);
    } else if (p.kind() == MetricPoint::KIND_EVAL) {
      std::printf("  eval  step %lld epoch %d: loss %s accuracy %s ece %s",
                  static_cast<long long>(p.step()), p.epoch(),
                  Fixed(Value(p.values(), "eval_loss")).c_str(),
                  Fixed(Value(p.values(), "eval_accuracy")).c_str(),
                  Fixed(Value(p.values(), "eval_ece")).c_str());
      if (p.values().count("eval_exact_match") != 0) {  // multi-label data
        std::printf(" exact_match %s f1 %s", Fixed(Value(p.values(), "eval_exact_match")).c_str(),
                    Fixed(Value(p.values(), "eval_f1")).c_str());
      }
      std::printf("\n");
    } else if (p.kind() != MetricPoint::KIND_TRAIN) {  // a newer coordinator's: as it is
      std::printf("  %s step %lld epoch %d\n", MetricKindWord(p.kind()).c_str(),
                  static_cast<long long>(p.step()), p.epoch());
    } else {
      std::printf("  train step %lld epoch %d (%.0f%%): loss %s accuracy %s %s samples/s\n",
                  static_cast<long long>(p.step()), p.epoch(), 100 * p.epoch_progress(),
                  Fixed(Value(p.values(), "loss")).c_str(),
                  Fixed(Value(p.values(), "accuracy")).c_str(),
                  Rate(Value(p.values(), "samples_per_second")).c_str());
    }
  }
  std::fflush(stdout);
}

void PrintLatestPoint(const Job& job, const MetricPoint* latest) {
  if (latest == nullptr) {
    std::printf("  progress: no metric reported yet\n");
    return;
  }
  const MetricPoint& p = *latest;
  // A requeued job's newest point may be its last attempt's, stored up to the checkpoint the
  // new one resumed from (the coordinator drops that attempt's later points as the new one
  // starts).
  if (job.state() == polytrain::v1::JOB_STATE_RUNNING && job.attempts() > 1 &&
      job.resumed_from_step() > 0 && p.step() <= job.resumed_from_step()) {
    std::printf(
        "  progress: attempt %d has reported no point yet (the newest, at step %lld, is an "
        "earlier attempt's)\n",
        job.attempts(), static_cast<long long>(p.step()));
    return;
  }
  const std::string step = job.spec().max_steps() > 0
                               ? absl::StrCat(p.step(), " of ", job.spec().max_steps())
                               : absl::StrCat(p.step());
  // 0-based, as watch and metrics number it.
  const std::string epoch = job.spec().epochs() > 0
                                ? absl::StrCat(p.epoch(), " of 0-", job.spec().epochs() - 1)
                                : absl::StrCat(p.epoch());
  const bool eval = p.kind() == MetricPoint::KIND_EVAL;
  std::printf(
      "  progress: step %s, epoch %s (%.0f%% of it), %.0f s into the attempt: %s loss %s "
      "accuracy %s%s\n",
      step.c_str(), epoch.c_str(), 100 * p.epoch_progress(), p.elapsed_seconds(),
      MetricKindWord(p.kind()).c_str(),
      Fixed(Value(p.values(), eval ? "eval_loss" : "loss")).c_str(),
      Fixed(Value(p.values(), eval ? "eval_accuracy" : "accuracy")).c_str(),
      eval ? ""
           : absl::StrCat(", ", Rate(Value(p.values(), "samples_per_second")), " samples/s")
                 .c_str());
}

void PrintJobTable(const polytrain::v1::ListJobsResponse& jobs) {
  TextTable table({{"id", 18},
                   {"name", 32},
                   {"loss", 24},
                   {"state", 10},
                   {"accuracy", 8, /*right_aligned=*/true},
                   {"worker"}});
  for (const Job& job : jobs.jobs()) {
    table.AddRow({job.id(), job.spec().name(), job.loss_name(), JobStateWord(job.state()),
                  Fixed(Value(job.final_metrics(), "eval_accuracy")), job.worker()});
  }
  std::fputs(table.ToString().c_str(), stdout);
}

void PrintJob(const Job& job) {
  const bool cancelling = job.cancel_requested() && job.state() == polytrain::v1::JOB_STATE_RUNNING;
  // A cancel that lost the race: the worker reported the job's end before it stopped it.
  const bool finished_first =
      job.cancel_requested() && (job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ||
                                 job.state() == polytrain::v1::JOB_STATE_FAILED);
  // A job queued or running again: its error and workers are its previous attempt's.
  const bool again = !IsFinalState(job.state()) && job.attempts() > 0 &&
                     job.state() != polytrain::v1::JOB_STATE_PAUSED;
  const bool queued = job.state() == polytrain::v1::JOB_STATE_QUEUED;
  const std::string worker =
      job.worker().empty() ? "" : absl::StrCat(queued ? ", last on " : ", worker ", job.worker());
  std::printf("%s %s: %s%s (attempts %d%s%s)\n", job.id().c_str(), job.spec().name().c_str(),
              JobStateWord(job.state()).c_str(),
              cancelling       ? ", cancel requested"
              : finished_first ? ", before the cancel asked for reached it"
                               : "",
              job.attempts(), worker.c_str(),
              job.error().empty() || again ? "" : (", " + Shown(job.error())).c_str());
  PrintEndedAttempts(job);
  // A record from a coordinator that kept no ended attempts: the latest one's end, as `error`.
  if (again && !job.error().empty() && job.ended_attempts().empty()) {
    std::printf("  attempt %d ended: %s\n", job.attempts() - (queued ? 0 : 1),
                Shown(job.error()).c_str());
  }
  if (job.resumed_from_step() > 0) {  // the latest attempt went on from a stored checkpoint
    std::printf("  attempt %d resumed from step %lld (a stored checkpoint)\n", job.attempts(),
                static_cast<long long>(job.resumed_from_step()));
  }
  if (job.has_best_checkpoint()) {  // spec.checkpoint.keep_best_by
    const polytrain::v1::BestCheckpoint& best = job.best_checkpoint();
    std::printf("  best checkpoint: step %lld, %s %s (polyctl checkpoint %s --best)\n",
                static_cast<long long>(best.step()), best.metric().c_str(),
                Fixed(best.value()).c_str(), job.id().c_str());
  }
  if (!job.waiting_for().empty()) std::printf("  waiting: %s\n", job.waiting_for().c_str());
  // A data-parallel job: where each rank of its latest attempt ran.
  if (job.rank_workers_size() > 0) {
    std::printf("  %d replicas, global batch %d (%d per replica)%s:\n", job.rank_workers_size(),
                job.spec().batch_size(), job.spec().batch_size() / job.rank_workers_size(),
                queued ? absl::StrCat(", attempt ", job.attempts()).c_str() : "");
    for (int rank = 0; rank < job.rank_workers_size(); ++rank) {
      std::printf("    rank %d on %s\n", rank, job.rank_workers(rank).c_str());
    }
  } else if (job.spec().replicas() > 1) {
    std::printf("  %d replicas, global batch %d (%d per replica)\n", job.spec().replicas(),
                job.spec().batch_size(), job.spec().batch_size() / job.spec().replicas());
  }
  if (job.spec().time_limit_seconds() > 0) {
    std::printf("  time limit %d s per attempt\n", job.spec().time_limit_seconds());
  }
  // A search's trial: where it stands (polyctl get SWEEP_ID shows the whole search).
  if (job.has_search()) {
    auto sweep = job.spec().labels().find("sweep");
    std::vector<std::string> values;
    for (double v : job.search().rung_values()) values.push_back(Fixed(v));
    // Where it pauses is news only while it can still get there.
    const bool ahead = !IsFinalState(job.state());
    const std::string at = !ahead ? ""
                           : job.search().pause_at_epoch() > 0
                               ? absl::StrCat(", pauses at epoch ", job.search().pause_at_epoch())
                           : job.search().pause_at_step() > 0
                               ? absl::StrCat(", pauses at step ", job.search().pause_at_step())
                               : "";
    std::printf(
        "  %s of %s, rung %d%s%s%s\n",
        job.search().rerun() ? "re-run" : absl::StrCat("trial ", job.search().trial()).c_str(),
        sweep == job.spec().labels().end() ? "?" : sweep->second.c_str(), job.search().rung(),
        at.c_str(),
        values.empty() ? "" : "; metric at earlier rungs: ", absl::StrJoin(values, " ").c_str());
  }
  // By name: a proto map's order changes from call to call.
  const std::map<std::string, double> metrics(job.final_metrics().begin(),
                                              job.final_metrics().end());
  for (const auto& [key, value] : metrics) {
    if (key.find('/') == std::string::npos) {
      std::printf("  %-16s %s\n", key.c_str(), Fixed(value).c_str());
    }
  }
}

void PrintMetrics(const polytrain::v1::GetMetricsResponse& metrics, const std::string& format) {
  if (format == "json") {
    std::cout << ToJson(metrics, true) << "\n";
    return;
  }
  std::vector<std::string> keys;  // every value key, sorted
  for (const auto& p : metrics.points()) {
    for (const auto& [key, value] : p.values()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  std::cout << "kind,step,epoch,epoch_progress,elapsed_seconds";
  for (const std::string& key : keys) std::cout << "," << CsvField(key);
  std::cout << "\n";
  for (const auto& p : metrics.points()) {
    std::cout << MetricKindWord(p.kind()) << "," << p.step() << "," << p.epoch() << ","
              << Exact(p.epoch_progress()) << "," << Exact(p.elapsed_seconds());
    for (const std::string& key : keys) {
      auto it = p.values().find(key);
      std::cout << ",";
      if (it != p.values().end()) std::cout << Exact(it->second);
    }
    std::cout << "\n";
  }
}

}  // namespace polytrain
