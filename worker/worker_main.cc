// polytrain-worker: trains JobSpecs with LibTorch, standalone or for a coordinator.
//
//   polytrain-worker --spec job.txtpb [--data_root DIR] [--metrics_out m.jsonl]
//                    [--checkpoint_dir DIR] [--resume]
//   polytrain-worker --coordinator HOST:PORT [--name N] [--slots K] [--device cpu|cuda]
//                    [--threads T] [--data_root DIR] [--checkpoint_dir DIR]
//
// Standalone: shows progress on stderr, writes metric points as JSON lines and prints a final
// summary. Service mode: dials the coordinator and trains what it assigns until SIGINT/SIGTERM.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "api/worker_messages.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/logging_flags.h"
#include "cli/security_flags.h"
#include "common/allocator.h"
#include "common/flag_directory.h"
#include "common/grpc_logging.h"
#include "common/grpc_security.h"
#include "common/host_port.h"
#include "spdlog/spdlog.h"
#include "worker/child_modes.h"
#include "worker/compute_threads.h"
#include "worker/device_choice.h"
#include "worker/load_probe.h"
#include "worker/mode_flags.h"
#include "worker/outbound_address.h"
#include "worker/replica_group.h"
#include "worker/service_process.h"
#include "worker/service_worker.h"
#include "worker/standalone_run.h"
#include "worker/trainer.h"
#include "worker/worker_exit.h"

namespace polytrain {
namespace {

using worker_exit::Fail;
using worker_exit::kTool;

int Main(int argc, char** argv) {
  RunIfChild(argc, argv);  // a load probe, a gang's connections: started by a worker
  // A peer that resets a connection (a scrape of /metrics, the coordinator) must cost a failed
  // write, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string allocator = TuneAllocatorForTensors();
  // cuBLAS needs a fixed workspace to be deterministic (JobSpec.deterministic on CUDA), and it
  // is read once, when cuBLAS starts: set before any job can run, unless the user set it.
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  ReplicaGroup::DisableFlightRecorder();  // before any data-parallel rank joins a gang
  CLI::App app{
      "polytrain-worker: train a PolyTrain job (JobSpec in .txtpb, .json or .yaml) with LibTorch.\n"
      "Example: polytrain-worker --spec examples/jobs/fashion_mnist_mlp_poly1.txtpb "
      "--metrics_out metrics.jsonl"};
  app.footer(absl::StrCat(
      "Service mode runs until SIGINT or SIGTERM, then gives its running jobs back to the "
      "coordinator, each checkpointed where its logging window ends (a data-parallel rank stops "
      "at its next step, its gang resuming from its last stored checkpoint; requeued at once, to "
      "resume elsewhere from there; at most ",
      kDefaultDrainSeconds,
      " s by default: --drain_seconds, and 5 s more for a job stuck past its cancel) and exits 0; "
      "the same, exit 6, when a job is stuck past "
      "--cancel_grace_seconds. "
      "A standalone job (--spec) stops at SIGINT or SIGTERM, with "
      "--checkpoint_dir where its logging window ends and checkpointed there (continue with "
      "--resume), and at spec.time_limit_seconds; it exits 6 then, and when it diverges "
      "(non-finite loss). ",
      ExitCodesHelp()));
  std::string spec_path, metrics_out, checkpoint_dir;
  TrainerOptions options;
  app.add_option("--spec", spec_path, "run this one JobSpec file (.txtpb, .json or .yaml) and exit")
      ->check(ExistingPath());
  ServiceWorker::Options service;
  std::string device = "cpu";
  app.add_option("--coordinator", service.coordinator,
                 "service mode: train jobs from the coordinator at HOST:PORT")
      ->check(HostPortOption(AddressOption::kGrpc, 1, kCoordinatorAddressHelp));
  app.add_option("--name", service.name,
                 "service mode: worker name, 1-128 characters of [A-Za-z0-9._-] (default "
                 "HOSTNAME-PID)")
      ->check(NotEmpty());
  app.add_option("--slots", service.slots, "service mode: jobs run at once")
      ->check(IntegerRange(1, 64))
      ->capture_default_str();
  app.add_option("--device", device,
                 "service mode: devices offered; cuda offers every GPU LibTorch sees, one job "
                 "on each")
      ->transform(CLI::IsMember({"cpu", "cuda"}, CLI::ignore_case))
      ->capture_default_str();
  std::string gpus;
  app.add_option("--gpus", gpus,
                 "service mode: the GPUs offered, e.g. 0,1 (implies --device cuda; indices 0-1023, "
                 "at most 64): one slot per GPU, each job pinned to its GPU")
      ->excludes("--slots")
      ->check(NotEmpty());  // an unset variable in a script, most likely
  AddClientSecurityFlags(app, &service.security);
  service.threads = MachineCores();
  app.add_option("--threads", service.threads,
                 "service mode: threads for all jobs together; each of the --slots jobs gets "
                 "threads/slots of them, rounded down, and at least 1 (so more slots than "
                 "threads use one thread per job) (default: the machine's cores)")
      ->check(IntegerRange(1, 256))
      ->capture_default_str();
  std::string metrics_listen, metrics_port_file;
  app.add_option("--metrics_listen", metrics_listen,
                 "service mode: serve Prometheus /metrics on address:port (port 0 picks one)")
      ->check(HostPortOption(AddressOption::kMetrics, 0, "(0 picks one)"));
  app.add_option("--metrics_port_file", metrics_port_file,
                 "service mode: write the /metrics port actually bound here")
      ->check(NotEmpty());
  app.add_option("--data_root", options.data_root, "directory every data path is confined to")
      ->capture_default_str();
  app.add_option("--artifact_cache_dir", service.artifact_cache_dir,
                 "service mode: keep the models and datasets jobs name (polyctl upload) here; one "
                 "given is made and tried at start, the default at the first fetch")
      ->check(NotEmpty())
      ->capture_default_str();
  app.add_option("--artifact_cache_bytes", service.artifact_cache_bytes,
                 "service mode: bound of that cache; least recently used files go first (a file "
                 "in use stays)")
      ->check(IntegerRange(int64_t{0}, int64_t{1} << 50))
      ->capture_default_str();
  std::string advertise_address;
  app.add_option("--advertise_address", advertise_address,
                 "service mode: the address the other ranks of a data-parallel job (spec.replicas "
                 "> 1) reach this worker at: an address of this machine, which a CPU worker checks "
                 "at start (default: this machine's address on the route to the coordinator)");
  app.add_option("--replica_timeout_seconds", service.replica_timeout_seconds,
                 "service mode: how long a rank of a data-parallel job waits for its gang (the "
                 "rendezvous, joining, each all-reduce) before its attempt is given up; a peer "
                 "whose process dies is noticed at once")
      ->check(FiniteRange(1.0, 86400.0))
      ->capture_default_str();
  int cancel_grace_seconds = 60;
  app.add_option("--cancel_grace_seconds", cancel_grace_seconds,
                 "service mode: a job that has not stopped this long after its cancel (stuck in "
                 "its model's code, in reading a file, in a collective) is reported cancelled; "
                 "the worker then gives its other jobs back and exits 6, since only a restart "
                 "frees the stuck job's slot")
      ->check(IntegerRange(1, 86400))
      ->capture_default_str();
  int drain_seconds = kDefaultDrainSeconds;
  app.add_option("--drain_seconds", drain_seconds,
                 "service mode: how long SIGINT or SIGTERM waits for the running jobs to be given "
                 "back before the worker exits (a job still training when a quarter of it, at "
                 "most 5 s, is left is cancelled, still given back, from its last stored "
                 "checkpoint); keep it 5 s and more below the grace period of what stops the "
                 "worker (Kubernetes' terminationGracePeriodSeconds, docker-compose's "
                 "stop_grace_period), whose kill would leave the jobs to their leases")
      ->check(IntegerRange(5, 3600))
      ->capture_default_str();
  app.add_option("--metrics_out", metrics_out,
                 "--spec run: write metric points here as JSON lines (service mode sends them to "
                 "the coordinator)")
      ->check(NotEmpty());
  app.add_option("--checkpoint_dir", checkpoint_dir,
                 "save checkpoints here (cadence from spec.checkpoint; always at the end; the "
                 "spec.checkpoint.keep_last newest, and with keep_best_by the best, named in "
                 "best_checkpoint.txtpb); in service mode, one subdirectory per job, removed once "
                 "the job has succeeded "
                 "(its last checkpoint stored) or been cancelled, or after "
                 "--checkpoint_keep_hours (without it, each attempt writes to a temporary "
                 "directory; checkpoints go to the coordinator either way)")
      ->check(NotEmpty());
  double checkpoint_keep_hours = 24;
  app.add_option("--checkpoint_keep_hours", checkpoint_keep_hours,
                 "service mode: a job's subdirectory of --checkpoint_dir in which nothing was "
                 "written for this long goes when the job is not running here (checked at "
                 "start-up and at each new job; 0: at once); a job resumes from the "
                 "coordinator's copy")
      ->check(FiniteRange(0.0, 8760.0))
      ->capture_default_str();
  app.add_flag("--resume", options.resume,
               "--spec run: continue from the newest checkpoint in --checkpoint_dir (service mode "
               "resumes every job from its last checkpoint anyway)");
  bool quiet = false;
  app.add_flag("--quiet", quiet,
               "no progress on stderr, and warnings and errors only logged (unless --log_level)");
  bool no_load_probe = false;
  app.add_flag(
      "--no_load_probe", no_load_probe,
      "load the files a job names (model, tensors, checkpoints) in this process only; "
      "by default each is loaded first in a child process (started ahead, so a job waits for "
      "its read; a --spec run also for much of LibTorch's start-up, about 0.5 s), so that a "
      "crafted file that crashes LibTorch ends the child and fails the job, not the "
      "worker: turn it off only where every user's files are trusted");
  bool gang_in_process = false;
  app.add_flag("--gang_in_process", gang_in_process,
               "run a data-parallel rank's connections to its gang (rank 0's store, Gloo's "
               "sockets) in this process; by default a CPU gang's run in a child process of "
               "their own, so that a peer's traffic that Gloo cannot take (it aborts the process "
               "it is in) ends that child and fails the gang, not the worker, and a cancel "
               "frees a rank waiting for a hung peer (a CUDA gang's stay in this process)");
  LoggingOptions logging;
  AddLoggingFlags(app, &logging);
  if (std::optional<int> exit = ParseCommandLine(app, argc, argv)) return *exit;
  if (quiet && app.count("--log_level") == 0) logging.level = "warn";  // probe CM
  if (absl::Status s = InitLogging(kTool, logging); !s.ok()) return Fail(kExitInvalid, s);
  RouteGrpcLogsToSpdlog();
  // The probe's first child is started (from this thread, which outlives every job) once the
  // command line has passed its checks: a run that ends at once starts none.
  auto enable_load_probe = [no_load_probe] {
    if (!no_load_probe) EnableLoadProbe("/proc/self/exe");
  };
  if (spec_path.empty() == service.coordinator.empty()) {
    std::cerr << "polytrain-worker: give --spec FILE (one job) or --coordinator HOST:PORT "
                 "(service mode)"
              << (spec_path.empty() ? "" : ", not both") << "\n";
    return kExitUsage;
  }
  if (!metrics_port_file.empty() && metrics_listen.empty()) {
    std::cerr << "polytrain-worker: --metrics_port_file needs --metrics_listen (no /metrics "
                 "port to write)\n"
              << kRunWithHelp;
    return kExitUsage;
  }
  WarnOfTheOtherModesFlags(app, /*spec_run=*/!spec_path.empty());
  // A --data_root given by hand that is not there is a mistake to say now, naming the path; the
  // default may be missing on a worker that runs only uploaded files and synthetic data.
  if (app.count("--data_root") > 0) {
    std::error_code error;
    if (!std::filesystem::is_directory(options.data_root, error)) {
      return Fail(kExitNotFound, absl::NotFoundError(absl::StrCat("--data_root ", options.data_root,
                                                                  ": no such directory")));
    }
  }
  if (!service.coordinator.empty()) {
    if (service.name.empty()) {
      char host[256] = "worker";
      gethostname(host, sizeof(host) - 1);
      service.name = std::string(host) + "-" + std::to_string(getpid());
    }
    // The coordinator would refuse it at every dial: a name it cannot take stops the worker here.
    if (absl::Status s =
            ValidateWorkerName(app.count("--name") > 0 ? "--name" : "HOSTNAME-PID", service.name);
        !s.ok()) {
      return Fail(kExitUsage, s);
    }
    // Flag mistakes (unreadable files, plaintext to another host) stop the worker here, not
    // in its reconnect loop.
    ClientSecurityOptions checked = service.security;
    if (absl::Status s = MakeChannel(service.coordinator, &checked).status(); !s.ok()) {
      // A flag's value or file, as polyctl and the coordinator say it: a missing file is 4.
      return Fail(absl::IsNotFound(s) ? kExitNotFound : kExitInvalid, s);
    }
    if (device == "cuda" && app.count("--slots") > 0) {
      return Fail(kExitUsage, absl::InvalidArgumentError(
                                  "--slots: a GPU worker runs one job per GPU; leave --slots "
                                  "out (or list the GPUs with --gpus)"));
    }
    if (device == "cuda" || !gpus.empty()) {
      absl::StatusOr<std::vector<int>> offered = OfferedGpus(gpus);
      if (!offered.ok()) {
        return Fail(offered.status().code() == absl::StatusCode::kInvalidArgument
                        ? kExitUsage
                        : kExitPrecondition,
                    offered.status());
      }
      service.gpus = *offered;
      service.slots = static_cast<int>(offered->size());
    }
    service.cancel_grace = std::chrono::seconds(cancel_grace_seconds);
    if (app.count("--advertise_address") > 0) {
      if (absl::Status s = CheckAdvertiseAddressForm(advertise_address); !s.ok()) {
        return Fail(kExitUsage, s);
      }
      if (absl::Status s = CheckAdvertiseAddress(advertise_address, device == "cuda"); !s.ok()) {
        return Fail(kExitInvalid, s);
      }
    }
    if (advertise_address.empty()) {
      // Asked again at each data-parallel job while unknown (a coordinator's name may resolve
      // only later).
      absl::StatusOr<std::string> outbound = OutboundAddressTo(service.coordinator);
      if (outbound.ok()) {
        advertise_address = *outbound;
      } else {
        spdlog::warn("no address to advertise to data-parallel peers yet: {}",
                     std::string(outbound.status().message()));
      }
    }
    service.advertise_host = advertise_address;
    if (!gang_in_process) service.gang_process_binary = "/proc/self/exe";
    service.data_root = options.data_root;
    service.checkpoint_root = checkpoint_dir;
    service.checkpoint_keep = std::chrono::seconds(std::llround(checkpoint_keep_hours * 3600));
    // Made and tried now: a path that cannot hold files fails here, not at a job's first
    // checkpoint.
    if (!checkpoint_dir.empty()) {
      if (absl::Status s = PrepareFlagDirectory("--checkpoint_dir", checkpoint_dir); !s.ok()) {
        return Fail(kExitInvalid, s);
      }
    }
    // A cache given too (probe CJ: an unusable one failed every job naming an upload). The
    // default, relative to where the worker starts, is made at its first fetch: a worker that
    // runs no upload leaves no directory behind, and starts where it cannot write.
    if (app.count("--artifact_cache_dir") > 0) {
      if (absl::Status s = PrepareFlagDirectory("--artifact_cache_dir", service.artifact_cache_dir);
          !s.ok()) {
        return Fail(kExitInvalid, s);
      }
    }
    enable_load_probe();
    return RunServiceProcess(service, metrics_listen, metrics_port_file, drain_seconds);
  }
  if (options.resume && checkpoint_dir.empty()) {
    std::cerr << "polytrain-worker: --resume needs --checkpoint_dir\n";
    return kExitUsage;
  }
  StandaloneRun run;
  run.spec_path = spec_path;
  run.metrics_out = metrics_out;
  run.checkpoint_dir = checkpoint_dir;
  run.options = options;
  run.quiet = quiet;
  run.allocator = allocator;
  run.enable_load_probe = enable_load_probe;
  return RunStandalone(std::move(run));
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
