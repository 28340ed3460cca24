// polytrain-coordinator: stores, schedules and serves training jobs over gRPC.
//
//   polytrain-coordinator --plaintext [--listen 127.0.0.1:50051] [--db polytrain.db] ...
//   polytrain-coordinator --listen 0.0.0.0:50051 --tls_cert C --tls_key K [--tls_client_ca CA]
//                         --tokens tokens.txt
//   polytrain-coordinator --hash_token < token   (prints the line part for a tokens file)
//
// Serves polytrain.v1.Coordinator (clients) and polytrain.v1.WorkerService (workers) on one
// port, with gRPC health checking (and server reflection, see --reflection).
#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/logging_flags.h"
#include "cli/security_flags.h"
#include "common/flag_file.h"
#include "common/grpc_logging.h"
#include "common/grpc_security.h"
#include "server/coordinator_server.h"
#include "server/token_authenticator.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

constexpr char kTool[] = "polytrain-coordinator";

void AddFlags(CLI::App& app, CoordinatorServer::Options* options) {
  app.add_option("--listen", options->listen,
                 "address:port to serve on (port 0 picks a free one), or unix:PATH (a Unix socket, "
                 "local clients only)")
      ->check(HostPortOption(AddressOption::kGrpc, 0, "(0 picks a free one)"))
      ->capture_default_str();
  app.add_option("--db", options->db, "SQLite database file (created if missing)")
      ->check(NotEmpty())
      ->capture_default_str();
  app.add_option("--artifacts", options->artifacts,
                 "directory for artifacts: checkpoints uploaded by workers, and users' models and "
                 "datasets (polyctl upload) under sha256/")
      ->check(NotEmpty())
      ->capture_default_str();
  app.add_option("--max_artifact_bytes", options->max_artifact_bytes,
                 "largest file a user may upload (polyctl upload), in bytes (0: only empty "
                 "files; bytes stored before stay usable by their id)")
      ->check(IntegerRange(int64_t{0}, kMaxUploadBytes))
      ->capture_default_str();
  app.add_option("--max_artifact_bytes_per_client", options->max_artifact_bytes_per_client,
                 "storage quota of a client token: the bytes its uploaded files (its artifact "
                 "records) may hold in all; an upload that would pass it is refused "
                 "(RESOURCE_EXHAUSTED, nothing stored; polyctl artifacts shows what they hold). An "
                 "admin token, or any caller without --tokens, has none. Lowered below what a "
                 "client holds, its files stay usable and it uploads again once it deleted enough")
      ->check(IntegerRange(int64_t{0}, kMaxClientArtifactBytes))
      ->capture_default_str();
  app.add_option("--lease_seconds", options->lease_seconds,
                 "a running job is requeued when its worker is silent this long")
      ->check(FiniteRange(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--keepalive_seconds", options->keepalive_seconds,
                 "a silent connection is pinged after this long and closed when the ping goes "
                 "unanswered as long again (a worker's host gone without a word)")
      ->check(FiniteRange(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--gang_backfill_seconds", options->gang_backfill_seconds,
                 "jobs queued behind a data-parallel job (spec.replicas > 1) that waits for its "
                 "workers may start before it for this long; after it, they wait until it has "
                 "started (0: they never pass it)")
      ->check(FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--transfer_idle_seconds", options->transfer_idle_seconds,
                 "an artifact upload (polyctl upload, a worker's checkpoint) on which no chunk "
                 "comes for this long is ended with DEADLINE_EXCEEDED, nothing stored; a worker's "
                 "download that takes no chunk for this long is cancelled")
      ->check(FiniteRange(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--max_client_priority", options->clients.max_client_priority,
                 absl::StrCat("the highest spec.priority a client token may submit (an admin "
                              "token may use up to ",
                              kMaxPriority,
                              "; without --tokens every caller is an admin): bounds how far one "
                              "user's jobs, and their searches' promotions, can jump the shared "
                              "queue"))
      ->check(IntegerRange(-kMaxPriority, kMaxPriority))
      ->capture_default_str();
  app.add_option("--max_unended_jobs_per_client", options->clients.max_unended_jobs,
                 "jobs one client token may have queued, running or paused at once; a submit "
                 "that would pass it is refused (RESOURCE_EXHAUSTED, nothing stored; an admin "
                 "token, or any caller without --tokens, has no limit)")
      ->check(IntegerRange(int64_t{1}, int64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--max_watches_per_caller", options->watch.per_caller,
                 "WatchJob streams one caller may hold open at once (without --tokens, every "
                 "caller counts as one)")
      ->check(IntegerRange(1, 100000))
      ->capture_default_str();
  app.add_option("--max_watch_backlog_bytes", options->watch.backlog_bytes,
                 "a WatchJob stream whose client falls this many bytes of events behind is ended "
                 "with RESOURCE_EXHAUSTED (the client watches again and gets the history)")
      ->check(IntegerRange(int64_t{4096}, int64_t{1} << 30))
      ->capture_default_str();
  app.add_option(
         "--metrics_listen", options->metrics_listen,
         "serve Prometheus /metrics on HOST:PORT or [IPV6]:PORT (0.0.0.0: every interface; port "
         "0 picks one; empty: off)")
      ->check(HostPortOption(AddressOption::kMetrics, 0, "(0 picks one; empty: off)"))
      ->capture_default_str();
  app.add_option("--job_series_retention_seconds", options->job_series_retention_seconds,
                 "keep a finished job's per-job series this long")
      ->check(FiniteRange(0.0, 86400.0 * 7))
      ->capture_default_str();
  app.add_option("--max_finished_job_series", options->max_finished_job_series,
                 "at most this many finished jobs keep their per-job series (oldest dropped)")
      ->check(IntegerRange(0, 1000000))
      ->capture_default_str();
  app.add_option("--delete_ended_jobs_after_days", options->delete_ended_jobs_after_days,
                 "delete each ended job (its record, metric history and checkpoints) this many "
                 "days after its end, and then an ended sweep's record left without jobs, checked "
                 "hourly; 0: keep them (polyctl delete removes a job or a sweep)")
      ->check(FiniteRange(0.0, 36500.0))
      ->capture_default_str();
  AddServerSecurityFlags(app, &options->security);
  app.add_option("--tokens", options->tokens_file,
                 "bearer tokens file (hashed, see below); without it no token is asked for")
      ->check(NotEmpty());
}

int Main(int argc, char** argv) {
  CLI::App app{
      "polytrain-coordinator: stores training jobs in SQLite and schedules them onto the "
      "polytrain-worker processes that dial in.\n"
      "Example (this machine only): polytrain-coordinator --plaintext --db polytrain.db\n"
      "Example (a cluster): polytrain-coordinator --listen 0.0.0.0:50051 --tls_cert server.pem "
      "--tls_key server.key --tls_client_ca ca.pem --tokens tokens.txt"};
  app.footer(absl::StrCat(
      "Tokens file (--tokens): one 'ROLE NAME sha256:HEX' per line, ROLE one of client (own "
      "jobs), worker (worker protocol only), admin (everything); make the hash with "
      "'polytrain-coordinator --hash_token < token-file'. Without --tokens every caller is an "
      "admin. SIGHUP reads the tokens file again (revoking a token closes its workers' streams; "
      "a file with an error leaves the tokens as they were).\nRuns until SIGINT or SIGTERM (then "
      "exits 0). ",
      ExitCodesHelp()));
  CoordinatorServer::Options options;
  AddFlags(app, &options);
  std::string port_file, metrics_port_file;
  app.add_option("--port_file", port_file, "write the port actually bound here (for scripts)")
      ->check(NotEmpty());
  app.add_option("--metrics_port_file", metrics_port_file,
                 "write the /metrics port actually bound here")
      ->check(NotEmpty());
  bool hash_token = false;
  app.add_flag("--hash_token", hash_token,
               "read a token on stdin, print its 'sha256:...' form for --tokens, and exit");
  bool reflection = false;
  CLI::Option* reflection_flag =
      app.add_option(
             "--reflection", reflection,
             "serve gRPC server reflection, which answers without a token: true or false (default: "
             "true without --tokens, false with)")
          ->check(CLI::Validator(
              [](std::string& value) -> std::string {
                return value == "true" || value == "false"
                           ? ""
                           : "must be true or false, got '" + value + "'";
              },
              "true|false"));
  LoggingOptions logging;
  AddLoggingFlags(app, &logging);
  if (std::optional<int> exit = ParseCommandLine(app, argc, argv)) return *exit;
  if (reflection_flag->count() > 0) options.reflection = reflection;
  if (!metrics_port_file.empty() && options.metrics_listen.empty()) {
    std::cerr << kTool
              << ": --metrics_port_file needs /metrics served (--metrics_listen '' turns it off)\n"
              << kRunWithHelp;
    return kExitUsage;
  }
  if (!port_file.empty() && absl::StartsWith(options.listen, "unix:")) {
    std::cerr << kTool << ": --port_file: a Unix socket (--listen " << options.listen
              << ") has no port\n"
              << kRunWithHelp;  // it wrote "1" (probe CJ)
    return kExitUsage;
  }
  if (absl::Status s = InitLogging(kTool, logging); !s.ok()) return ExitWithError(kTool, s);
  RouteGrpcLogsToSpdlog();

  if (hash_token) {
    // One line, its surrounding whitespace (a CRLF) dropped, as polyctl and the worker read a
    // token file. At most a little past the longest token: /dev/zero must not fill memory.
    constexpr size_t kMostRead = 8192;
    std::string text(kMostRead + 1, '\0');
    std::cin.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(std::cin.gcount()));
    if (text.size() > kMostRead) {
      return ExitWithError(kTool, absl::InvalidArgumentError(absl::StrCat(
                                      "--hash_token: more than ", kMostRead,
                                      " bytes on stdin; a token is at most 4096 characters")));
    }
    const std::string token(absl::StripAsciiWhitespace(text));
    if (token.find_first_of("\r\n") != std::string::npos) {
      return ExitWithError(
          kTool, absl::InvalidArgumentError("--hash_token: give one token, on one line, on stdin"));
    }
    if (absl::Status s = CheckTokenShape(token, "--hash_token"); !s.ok()) {
      return ExitWithError(kTool, absl::InvalidArgumentError(absl::StrCat(
                                      s.message(), " (make one with e.g. openssl rand -hex 32)")));
    }
    std::cout << HashToken(token) << "\n";
    return kExitOk;
  }
  // Block the signals before any thread starts, so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // SQLite would take these as a database that lives only as long as the process.
  if (options.db.empty() || options.db == ":memory:" || absl::StartsWith(options.db, "file:")) {
    return ExitWithError(kTool, absl::InvalidArgumentError(absl::StrCat(
                                    "--db: must name a file (jobs must outlive the process), got '",
                                    options.db, "'")));
  }
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--metrics_port_file", metrics_port_file},
        {"--port_file", port_file}}) {
    if (path.empty()) continue;
    if (absl::Status s = CheckFlagFileWritable(flag, path); !s.ok()) {
      return ExitWithError(kTool, s);
    }
  }
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  if (!server.ok()) {
    // Every start-up failure is a flag's value (a file, an address): invalid input, or a file
    // not found (4, as every tool says a missing file).
    return ExitWithError(kTool, absl::IsNotFound(server.status())
                                    ? server.status()
                                    : absl::InvalidArgumentError(server.status().message()));
  }
  // The metrics port first: a script that waits for --port_file then finds it written (one that
  // read it at once found it missing, now and then, under load).
  for (const auto& [flag, path, port] :
       {std::tuple<const char*, const std::string&, int>{"--metrics_port_file", metrics_port_file,
                                                         (*server)->metrics_port()},
        {"--port_file", port_file, (*server)->port()}}) {
    if (path.empty()) continue;
    // A script waiting for the file would wait forever: a file that cannot be written stops it.
    if (absl::Status s = WriteFlagFile(flag, path, absl::StrCat(port, "\n")); !s.ok()) {
      (*server)->Shutdown(0);
      return ExitWithError(kTool, s);
    }
  }
  spdlog::info("serving on {}", (*server)->Describe());
  if (options.tokens_file.empty() && !IsLoopbackAddress(options.listen)) {
    spdlog::warn(
        "serving {} without --tokens: every caller may do everything an admin may, and any "
        "process that reaches the port may train jobs as a worker{}; give --tokens (README: "
        "Security)",
        options.listen,
        options.security.tls_client_ca.empty() ? "" : " that holds a certificate of the CA");
  }
  // /metrics has no tokens: with them in force, a port every network reaches undoes them for
  // what it shows (probe CB: nothing said so at start).
  if (!options.tokens_file.empty() && !options.metrics_listen.empty() &&
      !IsLoopbackAddress(options.metrics_listen)) {
    spdlog::warn(
        "serving /metrics on {} without tokens: whoever reaches it reads every user's job ids, "
        "names, losses and sweep ids; bind --metrics_listen to an address only Prometheus "
        "reaches (README: Security)",
        options.metrics_listen);
  }

  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
    absl::StatusOr<std::string> reloaded = (*server)->ReloadTokens();
    if (reloaded.ok()) {
      spdlog::info("reloaded {}", *reloaded);
    } else if (absl::IsFailedPrecondition(reloaded.status())) {
      spdlog::warn("SIGHUP: {}", std::string(reloaded.status().message()));
    } else {
      spdlog::error("--tokens not reloaded, the tokens in force stay: {}",
                    std::string(reloaded.status().message()));
    }
  }
  spdlog::info("shutting down");
  (*server)->Shutdown(5);
  return kExitOk;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
