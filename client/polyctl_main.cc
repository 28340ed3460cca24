// polyctl: submit, watch, sweep and compare PolyTrain jobs from the terminal.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/loss_grid.h"
#include "client/spec_file.h"
#include "client/svg_chart.h"
#include "common/grpc_security.h"
#include "common/grpc_status.h"
#include "common/proto_file.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "loss/core/describe.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/curve_points.h"
#include "loss/spec/loss_spec.h"
#include "polytrain/v1/coordinator.grpc.pb.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;

// Exit codes, documented in --help.
constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitNotFound = 4;
constexpr int kExitPrecondition = 5;
constexpr int kExitJobFailed = 6;
constexpr int kExitInternal = 7;
constexpr int kExitDenied = 8;
constexpr char kExitHelp[] =
    "Exit codes: 0 success, 1 invalid input (the coordinator's field path is shown), 2 bad "
    "command line, 3 coordinator unreachable, 4 unknown id, 5 not allowed now (e.g. cancel of "
    "a finished job), 6 the watched job failed or was cancelled, 7 internal error, 8 no or an "
    "unknown token, or not your job.\n"
    "The coordinator address comes from --coordinator, else $POLYTRAIN_COORDINATOR, else "
    "127.0.0.1:50051. The token comes from --token_file, else $POLYTRAIN_TOKEN. Without --tls_ca "
    "polyctl speaks plaintext, and only to a loopback address.";

int ExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:
      return kExitPrecondition;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitInternal;
  }
}

int Fail(const absl::Status& status) {
  std::cerr << "polyctl: " << status.message() << "\n";
  return ExitCode(status);
}

std::string StateName(JobState state) {
  std::string name = polytrain::v1::JobState_Name(state);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "JOB_STATE_"));
}

class Client {
 public:
  // A bad TLS or token flag shows up at the first call (offline commands never make one).
  Client(const std::string& address, ClientSecurityOptions security)
      : address_(address), security_(std::move(security)) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address, &security_);
    if (channel.ok()) {
      stub_ = polytrain::v1::Coordinator::NewStub(*channel);
    } else {
      status_ = channel.status();
    }
  }

  // Calls a unary method with a deadline; UNAVAILABLE names the address.
  template <typename Request, typename Response, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    if (!status_.ok()) return status_;
    grpc::ClientContext context;
    Prepare(&context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    Response response;
    const grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach the coordinator at ", address_, ": ", status.error_message()));
    }
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  // OK, or why no call can be made (a flag error).
  const absl::Status& status() const { return status_; }
  // Attaches the token to a call's context.
  void Prepare(grpc::ClientContext* context) const { AddToken(security_, context); }
  polytrain::v1::Coordinator::Stub* stub() { return stub_.get(); }

 private:
  std::string address_;
  ClientSecurityOptions security_;
  absl::Status status_;
  std::unique_ptr<polytrain::v1::Coordinator::Stub> stub_;
};

double Value(const google::protobuf::Map<std::string, double>& values, const char* key) {
  auto it = values.find(key);
  return it == values.end() ? NAN : it->second;
}

// One progress line, rewritten in place on a terminal.
void PrintProgress(const Job& job, const polytrain::v1::MetricPoint& p, double eval_accuracy) {
  const int epochs = job.spec().epochs();
  const double done = epochs > 0 ? std::min(1.0, (p.epoch() + p.epoch_progress()) / epochs) : 0;
  const int width = 24, filled = static_cast<int>(done * width);
  const double eta = done > 0 ? p.elapsed_seconds() * (1 - done) / done : 0;
  std::printf(
      "\r%s [%s%s] %3.0f%% step %lld epoch %d/%d loss %.4f acc %.4f eval %.4f %.0f "
      "samples/s ETA %.0fs\033[K",
      job.spec().name().c_str(), std::string(filled, '=').c_str(),
      std::string(width - filled, ' ').c_str(), 100 * done, static_cast<long long>(p.step()),
      p.epoch() + 1, epochs, Value(p.values(), "loss"), Value(p.values(), "accuracy"),
      eval_accuracy, Value(p.values(), "samples_per_second"), eta);
}

// Follows a job to its end, one line per event unless quiet (a live progress line instead on a
// terminal); returns the final job.
absl::StatusOr<Job> Watch(Client& client, const std::string& id, bool quiet) {
  const bool terminal = isatty(fileno(stdout)) != 0;
  double eval_accuracy = NAN;
  if (!client.status().ok()) return client.status();
  grpc::ClientContext context;
  client.Prepare(&context);
  polytrain::v1::WatchJobRequest request;
  request.set_id(id);
  auto reader = client.stub()->WatchJob(&context, request);
  polytrain::v1::JobEvent event;
  Job last;
  while (reader->Read(&event)) {
    if (event.has_job()) {
      last = event.job();
      if (!quiet) {
        if (terminal) std::printf("\n");
        std::printf("%s %s: %s%s%s\n", last.id().c_str(), last.spec().name().c_str(),
                    StateName(last.state()).c_str(),
                    last.worker().empty() ? "" : (" on " + last.worker()).c_str(),
                    last.error().empty() ? "" : (" — " + last.error()).c_str());
      }
    } else if (!quiet) {
      const auto& p = event.point();
      if (p.kind() == polytrain::v1::MetricPoint::KIND_EVAL) {
        eval_accuracy = Value(p.values(), "eval_accuracy");
      }
      if (terminal) {
        if (p.kind() == polytrain::v1::MetricPoint::KIND_TRAIN) {
          PrintProgress(last, p, eval_accuracy);
        }
      } else if (p.kind() == polytrain::v1::MetricPoint::KIND_EVAL) {
        std::printf("  eval  step %lld epoch %d: loss %.4f accuracy %.4f ece %.4f\n",
                    static_cast<long long>(p.step()), p.epoch(), Value(p.values(), "eval_loss"),
                    Value(p.values(), "eval_accuracy"), Value(p.values(), "eval_ece"));
      } else {
        std::printf("  train step %lld epoch %d (%.0f%%): loss %.4f accuracy %.4f %.0f samples/s\n",
                    static_cast<long long>(p.step()), p.epoch(), 100 * p.epoch_progress(),
                    Value(p.values(), "loss"), Value(p.values(), "accuracy"),
                    Value(p.values(), "samples_per_second"));
      }
    }
    std::fflush(stdout);
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return last;
}

int OutcomeExit(const Job& job) {
  return job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitJobFailed;
}

std::string Fixed(double v, int digits = 4) {
  return std::isnan(v) ? "-" : absl::StrFormat("%.*f", digits, v);
}

// Eval metric and train loss over steps, one curve per run, coloured by loss.
std::string CompareChart(const polytrain::v1::CompareJobsResponse& table) {
  std::vector<std::pair<std::string, std::string>> legend;
  auto color_of = [&](const std::string& loss) {
    for (const auto& [name, color] : legend) {
      if (name == loss) return color;
    }
    legend.emplace_back(loss, PaletteColor(legend.size()));
    return legend.back().second;
  };
  ChartPanel eval{table.metric() + " by step", "step", table.metric(), {}};
  ChartPanel train{"train loss by step", "step", "train loss", {}};
  for (const auto& curve : table.curves()) {
    const std::string color = color_of(curve.loss_name());
    ChartSeries e{
        curve.loss_name(), color, {}, {curve.eval_values().begin(), curve.eval_values().end()}};
    for (int64_t step : curve.eval_steps()) e.x.push_back(static_cast<double>(step));
    ChartSeries t{
        curve.loss_name(), color, {}, {curve.train_loss().begin(), curve.train_loss().end()}};
    for (int64_t step : curve.train_steps()) t.x.push_back(static_cast<double>(step));
    eval.series.push_back(std::move(e));
    train.series.push_back(std::move(t));
  }
  return RenderSvg({eval, train}, legend);
}

void PrintCompare(const polytrain::v1::CompareJobsResponse& table, const std::string& format,
                  bool per_job) {
  if (format == "json") {
    std::cout << ToJson(table, true) << "\n";
    return;
  }
  if (format == "csv") {
    std::cout << "loss,runs,mean,std,ci95_low,ci95_high,p_value,baseline,mean_best,mean_ece\n";
    for (const auto& r : table.losses()) {
      std::cout << absl::StrCat(r.loss_name(), ",", r.runs(), ",", r.mean(), ",", r.std(), ",",
                                r.ci95_low(), ",", r.ci95_high(), ",", r.p_value(), ",",
                                r.baseline() ? "true" : "false", ",", r.mean_best(), ",",
                                r.mean_ece())
                << "\n";
    }
    return;
  }
  std::printf("%s by loss (mean over seeds; p: Welch's t-test vs %s)\n", table.metric().c_str(),
              table.baseline_loss().c_str());
  std::printf("%-28s %4s %8s %8s  %-19s %9s %8s %8s\n", "loss", "runs", "mean", "std",
              "95% interval", "p", "best", "ece");
  for (const auto& r : table.losses()) {
    const std::string interval = std::isnan(r.ci95_low())
                                     ? "-"
                                     : absl::StrFormat("[%.4f, %.4f]", r.ci95_low(), r.ci95_high());
    std::printf("%-28s %4d %8s %8s  %-19s %9s %8s %8s\n", r.loss_name().c_str(), r.runs(),
                Fixed(r.mean()).c_str(), Fixed(r.std()).c_str(), interval.c_str(),
                r.baseline() ? "baseline" : Fixed(r.p_value(), 3).c_str(),
                Fixed(r.mean_best()).c_str(), Fixed(r.mean_ece()).c_str());
  }
  if (!per_job) return;
  std::printf("\n%-18s %-28s %-28s %-10s %6s %8s %8s %8s\n", "job", "name", "loss", "state", "seed",
              "final", "best", "seconds");
  for (const auto& j : table.jobs()) {
    std::printf("%-18s %-28s %-28s %-10s %6llu %8s %8s %8.1f\n", j.job_id().c_str(),
                j.name().c_str(), j.loss_name().c_str(), StateName(j.state()).c_str(),
                static_cast<unsigned long long>(j.seed()), Fixed(j.final_value()).c_str(),
                Fixed(j.best_value()).c_str(), j.seconds());
  }
}

absl::Status ApplyLabels(const std::vector<std::string>& labels, polytrain::v1::JobSpec* spec) {
  for (const std::string& label : labels) {
    const std::vector<std::string> kv = absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: expected KEY=VALUE, got '", label, "'"));
    }
    (*spec->mutable_labels())[kv[0]] = kv[1];
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  CLI::App app{
      "polyctl: submit, watch, sweep and compare PolyTrain training jobs.\n"
      "Example: polyctl sweep examples/jobs/fashion_mnist_mlp_ce.txtpb "
      "--loss-grid 'poly1.epsilon=-1,0,1,2' --seeds 2 --wait"};
  app.footer(kExitHelp);
  app.require_subcommand(1);
  // Connection flags may come before or after the subcommand (`polyctl list --coordinator X`).
  app.fallthrough();
  const char* env = std::getenv("POLYTRAIN_COORDINATOR");
  std::string address = env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
  app.add_option("--coordinator", address, "coordinator HOST:PORT");
  ClientSecurityOptions security;
  AddClientSecurityFlags(app, &security);

  std::string file, loss_text, name, format = "table", request_id, metric, baseline, sweep_id, plot,
                                     points = "0.05,0.25,0.5,0.75,0.95";
  std::vector<std::string> loss_files;
  std::vector<std::string> labels, grids, loss_texts, states, ids;
  int64_t seed = -1, epochs = -1;
  int seeds = 1, limit = 50;
  bool watch = false, wait = false, per_job = false;

  auto* submit =
      app.add_subcommand("submit", "Submit a job (JobSpec in .txtpb or .json); prints its id.");
  submit->add_option("file", file, "JobSpec file")->required()->check(CLI::ExistingFile);
  submit->add_option("--loss", loss_text, "replace the loss, e.g. 'poly1 { epsilon: 2 }'");
  submit->add_option("--seed", seed, "replace the seed")->check(CLI::NonNegativeNumber);
  submit->add_option("--epochs", epochs, "replace the epochs")->check(CLI::Range(0, 10000));
  submit->add_option("--name", name, "replace the name");
  submit->add_option("--label", labels, "add a label KEY=VALUE (repeatable)");
  submit->add_option("--request-id", request_id, "makes retries of this submit safe");
  submit->add_flag("--watch", watch, "follow the job until it ends");

  auto* sweep = app.add_subcommand("sweep", "Submit one job per loss x seed; prints the sweep id.");
  sweep->add_option("file", file, "base JobSpec file")->required()->check(CLI::ExistingFile);
  sweep->add_option("--loss-grid", grids,
                    "PRESET.FIELD=V1,V2,... (';' multiplies dimensions), repeatable");
  sweep->add_option("--loss", loss_texts, "one more loss, e.g. 'cross_entropy {}' (repeatable)");
  sweep->add_option("--seeds", seeds, "runs per loss")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  sweep->add_option("--label", labels, "add a label KEY=VALUE to every job (repeatable)");
  sweep->add_option("--request-id", request_id, "makes retries of this sweep safe");
  sweep->add_flag("--wait", wait, "wait until every job has ended");

  auto* list = app.add_subcommand("list", "List jobs, newest first.");
  list->add_option("--state", states,
                   "queued, running, succeeded, failed or cancelled (repeatable)");
  list->add_option("--label", labels, "only jobs with this label KEY=VALUE (repeatable)");
  list->add_option("--sweep", sweep_id, "only jobs of this sweep");
  list->add_option("--limit", limit, "at most this many")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));

  auto* get = app.add_subcommand("get", "Show one job.");
  get->add_option("id", name, "job id")->required();
  get->add_option("--format", format, "text or json")
      ->check(CLI::IsMember({"table", "text", "json"}));

  auto* cancel = app.add_subcommand("cancel", "Cancel a queued or running job.");
  cancel->add_option("id", name, "job id")->required();

  auto* watch_cmd =
      app.add_subcommand("watch", "Follow a job until it ends; exits with its outcome.");
  watch_cmd->add_option("id", name, "job id")->required();

  auto* compare = app.add_subcommand("compare", "Compare jobs or a sweep, per loss and per job.");
  compare->add_option("ids", ids, "job ids");
  compare->add_option("--sweep", sweep_id, "every job of this sweep");
  compare->add_option("--metric", metric, "evaluation metric (default eval_accuracy)");
  compare->add_option("--baseline", baseline, "baseline loss (default ce, else the first)");
  compare->add_flag("--per-job", per_job, "also one row per job");
  compare->add_option("--format", format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  compare->add_option("--plot", plot,
                      "also draw the runs' curves, coloured by loss (.svg or .png)");

  auto* loss_cmd = app.add_subcommand("loss", "Inspect LossSpec files (no coordinator needed).");
  loss_cmd->require_subcommand(1);
  auto* loss_describe = loss_cmd->add_subcommand("describe", "The named form and coefficients.");
  loss_describe->add_option("file", file, "LossSpec file")->required()->check(CLI::ExistingFile);
  auto* loss_curve = loss_cmd->add_subcommand(
      "curve", "L(pt) and dL/dpt of one or more losses; --plot draws them on one chart.");
  loss_curve->add_option("files", loss_files, "LossSpec files")
      ->required()
      ->check(CLI::ExistingFile);
  loss_curve->add_option("--pt", points, "points in [0, 1] for the table")->capture_default_str();
  loss_curve->add_option("--plot", plot, "draw L(pt) and dL/dpt on pt in (0, 1] (.svg or .png)");

  auto* metrics = app.add_subcommand("metrics", "A job's metric history for notebooks.");
  metrics->add_option("id", name, "job id")->required();
  metrics->add_option("--format", format, "csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kExitUsage;
  }
  Client client(address, security);

  if (*submit) {
    polytrain::v1::SubmitJobRequest request;
    if (absl::Status s = ReadSpecFile(file, request.mutable_spec()); !s.ok()) return Fail(s);
    polytrain::v1::JobSpec& spec = *request.mutable_spec();
    if (!loss_text.empty()) {
      if (absl::Status s = ParseProto(loss_text, ProtoFormat::kText, "--loss", spec.mutable_loss());
          !s.ok()) {
        return Fail(s);
      }
    }
    if (seed >= 0) spec.set_seed(seed);
    if (epochs >= 0) spec.set_epochs(static_cast<int32_t>(epochs));
    if (!name.empty()) spec.set_name(name);
    if (absl::Status s = ApplyLabels(labels, &spec); !s.ok()) return Fail(s);
    request.set_client_request_id(request_id);
    absl::StatusOr<Job> job = client.Call<polytrain::v1::SubmitJobRequest, Job>(
        &polytrain::v1::Coordinator::Stub::SubmitJob, request);
    if (!job.ok()) return Fail(job.status());
    std::cout << job->id() << "\n";
    if (!watch) return kExitOk;
    absl::StatusOr<Job> final = Watch(client, job->id(), false);
    return final.ok() ? OutcomeExit(*final) : Fail(final.status());
  }

  if (*sweep) {
    polytrain::v1::SubmitSweepRequest request;
    if (absl::Status s = ReadSpecFile(file, request.mutable_base()); !s.ok()) return Fail(s);
    if (absl::Status s = ApplyLabels(labels, request.mutable_base()); !s.ok()) return Fail(s);
    for (const std::string& text : loss_texts) {
      if (absl::Status s = ParseProto(text, ProtoFormat::kText, "--loss", request.add_losses());
          !s.ok()) {
        return Fail(s);
      }
    }
    for (const std::string& grid : grids) {
      absl::StatusOr<std::vector<polytrain::v1::LossSpec>> losses = ExpandLossGrid(grid);
      if (!losses.ok()) return Fail(losses.status());
      for (auto& loss : *losses) *request.add_losses() = std::move(loss);
    }
    if (request.losses().empty()) {
      std::cerr << "polyctl: sweep needs --loss-grid or --loss\n";
      return kExitUsage;
    }
    request.set_seeds(seeds);
    request.set_client_request_id(request_id);
    absl::StatusOr<polytrain::v1::SubmitSweepResponse> response =
        client.Call<polytrain::v1::SubmitSweepRequest, polytrain::v1::SubmitSweepResponse>(
            &polytrain::v1::Coordinator::Stub::SubmitSweep, request);
    if (!response.ok()) return Fail(response.status());
    std::cout << response->sweep_id() << "\n";
    if (!wait) return kExitOk;
    int outcome = kExitOk;
    for (const Job& job : response->jobs()) {
      absl::StatusOr<Job> final = Watch(client, job.id(), true);
      if (!final.ok()) return Fail(final.status());
      std::cerr << final->id() << " " << final->spec().name() << ": " << StateName(final->state())
                << "\n";
      if (OutcomeExit(*final) != kExitOk) outcome = kExitJobFailed;
    }
    return outcome;
  }

  if (*list) {
    polytrain::v1::ListJobsRequest request;
    for (const std::string& state : states) {
      JobState value;
      if (!polytrain::v1::JobState_Parse("JOB_STATE_" + absl::AsciiStrToUpper(state), &value)) {
        return Fail(
            absl::InvalidArgumentError(absl::StrCat("--state: unknown state '", state, "'")));
      }
      request.add_states(value);
    }
    polytrain::v1::JobSpec holder;
    if (absl::Status s = ApplyLabels(labels, &holder); !s.ok()) return Fail(s);
    request.mutable_labels()->insert(holder.labels().begin(), holder.labels().end());
    if (!sweep_id.empty()) (*request.mutable_labels())["sweep"] = sweep_id;
    request.set_page_size(limit);
    absl::StatusOr<polytrain::v1::ListJobsResponse> response =
        client.Call<polytrain::v1::ListJobsRequest, polytrain::v1::ListJobsResponse>(
            &polytrain::v1::Coordinator::Stub::ListJobs, request);
    if (!response.ok()) return Fail(response.status());
    if (format == "json") {
      std::cout << ToJson(*response) << "\n";
      return kExitOk;
    }
    std::printf("%-18s %-32s %-24s %-10s %8s %s\n", "id", "name", "loss", "state", "accuracy",
                "worker");
    for (const Job& job : response->jobs()) {
      std::printf("%-18s %-32s %-24s %-10s %8s %s\n", job.id().c_str(), job.spec().name().c_str(),
                  job.loss_name().c_str(), StateName(job.state()).c_str(),
                  Fixed(Value(job.final_metrics(), "eval_accuracy")).c_str(), job.worker().c_str());
    }
    return kExitOk;
  }

  if (*get || *cancel) {
    absl::StatusOr<Job> job;
    if (*get) {
      polytrain::v1::GetJobRequest request;
      request.set_id(name);
      job = client.Call<polytrain::v1::GetJobRequest, Job>(
          &polytrain::v1::Coordinator::Stub::GetJob, request);
    } else {
      polytrain::v1::CancelJobRequest request;
      request.set_id(name);
      job = client.Call<polytrain::v1::CancelJobRequest, Job>(
          &polytrain::v1::Coordinator::Stub::CancelJob, request);
    }
    if (!job.ok()) return Fail(job.status());
    if (format == "json") {
      std::cout << ToJson(*job) << "\n";
    } else {
      std::printf("%s %s: %s (attempts %d%s%s)\n", job->id().c_str(), job->spec().name().c_str(),
                  StateName(job->state()).c_str(), job->attempts(),
                  job->worker().empty() ? "" : (", worker " + job->worker()).c_str(),
                  job->error().empty() ? "" : (", " + job->error()).c_str());
      for (const auto& [key, value] : job->final_metrics()) {
        if (key.find('/') == std::string::npos) std::printf("  %-16s %.4f\n", key.c_str(), value);
      }
    }
    return kExitOk;
  }

  if (*watch_cmd) {
    if (!absl::StartsWith(name, "sweep-")) {
      absl::StatusOr<Job> final = Watch(client, name, false);
      return final.ok() ? OutcomeExit(*final) : Fail(final.status());
    }
    // A sweep: each of its jobs in submission order.
    polytrain::v1::ListJobsRequest request;
    (*request.mutable_labels())["sweep"] = name;
    request.set_page_size(1000);
    absl::StatusOr<polytrain::v1::ListJobsResponse> jobs =
        client.Call<polytrain::v1::ListJobsRequest, polytrain::v1::ListJobsResponse>(
            &polytrain::v1::Coordinator::Stub::ListJobs, request);
    if (!jobs.ok()) return Fail(jobs.status());
    if (jobs->jobs().empty()) {
      return Fail(absl::NotFoundError(absl::StrCat("no jobs in sweep ", name)));
    }
    int outcome = kExitOk;
    for (auto it = jobs->jobs().rbegin(); it != jobs->jobs().rend(); ++it) {
      absl::StatusOr<Job> final = Watch(client, it->id(), false);
      if (!final.ok()) return Fail(final.status());
      if (OutcomeExit(*final) != kExitOk) outcome = kExitJobFailed;
    }
    return outcome;
  }

  if (*compare) {
    polytrain::v1::CompareJobsRequest request;
    for (const std::string& id : ids) request.add_job_ids(id);
    request.set_sweep_id(sweep_id);
    request.set_metric(metric);
    request.set_baseline_loss(baseline);
    absl::StatusOr<polytrain::v1::CompareJobsResponse> table =
        client.Call<polytrain::v1::CompareJobsRequest, polytrain::v1::CompareJobsResponse>(
            &polytrain::v1::Coordinator::Stub::CompareJobs, request);
    if (!table.ok()) return Fail(table.status());
    PrintCompare(*table, format, per_job);
    if (!plot.empty()) {
      if (absl::Status s = WriteChart(plot, CompareChart(*table)); !s.ok()) return Fail(s);
    }
    return kExitOk;
  }

  if (*loss_cmd) {
    std::vector<std::string> paths = *loss_describe ? std::vector<std::string>{file} : loss_files;
    std::vector<loss::LossConfig> configs;
    for (const std::string& path : paths) {
      polytrain::v1::LossSpec spec;
      if (absl::Status s = ReadSpecFile(path, &spec); !s.ok()) return Fail(s);
      absl::StatusOr<loss::LossConfig> config = loss::ToLossConfig(spec);
      if (!config.ok()) {
        return Fail(
            absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message())));
      }
      configs.push_back(*config);
    }
    if (*loss_describe) {
      std::cout << loss::Describe(configs[0]);
      return kExitOk;
    }
    absl::StatusOr<std::vector<double>> parsed = loss::ParseCurvePoints(points);
    if (!parsed.ok()) return Fail(parsed.status());
    const std::vector<double>& pts = *parsed;
    std::printf("%-28s", "loss");
    for (double pt : pts) std::printf("   L(%.2f)  dL(%.2f)", pt, pt);
    std::printf("\n");
    for (const auto& config : configs) {
      std::printf("%-28s", loss::ShortName(config).c_str());
      for (const auto& point : loss::EvaluateCurve(config.series, pts)) {
        std::printf(" %9.4f %9.4f", point.loss, point.dloss_dpt);
      }
      std::printf("\n");
    }
    if (!plot.empty()) {
      std::vector<double> grid;
      for (int i = 4; i <= 200; ++i) grid.push_back(i / 200.0);  // from 0.02: L(0) is infinite
      ChartPanel value{"L(pt)", "pt", "loss", {}}, slope{"dL/dpt", "pt", "gradient", {}};
      std::vector<std::pair<std::string, std::string>> legend;
      for (size_t i = 0; i < configs.size(); ++i) {
        const std::string name = loss::ShortName(configs[i]);
        legend.emplace_back(name, PaletteColor(i));
        ChartSeries l{name, PaletteColor(i), grid, {}}, g{name, PaletteColor(i), grid, {}};
        for (const auto& point : loss::EvaluateCurve(configs[i].series, grid)) {
          l.y.push_back(point.loss);
          g.y.push_back(point.dloss_dpt);
        }
        value.series.push_back(std::move(l));
        slope.series.push_back(std::move(g));
      }
      if (absl::Status s = WriteChart(plot, RenderSvg({value, slope}, legend)); !s.ok()) {
        return Fail(s);
      }
    }
    return kExitOk;
  }

  if (*metrics) {
    polytrain::v1::GetMetricsRequest request;
    request.set_job_id(name);
    absl::StatusOr<polytrain::v1::GetMetricsResponse> response =
        client.Call<polytrain::v1::GetMetricsRequest, polytrain::v1::GetMetricsResponse>(
            &polytrain::v1::Coordinator::Stub::GetMetrics, request);
    if (!response.ok()) return Fail(response.status());
    if (format == "json") {
      std::cout << ToJson(*response, true) << "\n";
      return kExitOk;
    }
    std::vector<std::string> keys;  // every value key, in first-seen order
    for (const auto& p : response->points()) {
      for (const auto& [key, value] : p.values()) {
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
      }
    }
    std::sort(keys.begin(), keys.end());
    std::cout << "kind,step,epoch,epoch_progress,elapsed_seconds";
    for (const std::string& key : keys) std::cout << "," << key;
    std::cout << "\n";
    for (const auto& p : response->points()) {
      std::cout << (p.kind() == polytrain::v1::MetricPoint::KIND_EVAL ? "eval" : "train") << ","
                << p.step() << "," << p.epoch() << "," << p.epoch_progress() << ","
                << p.elapsed_seconds();
      for (const std::string& key : keys) {
        auto it = p.values().find(key);
        std::cout << ",";
        if (it != p.values().end()) std::cout << absl::StrCat(it->second);
      }
      std::cout << "\n";
    }
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
