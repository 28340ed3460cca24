// polyctl: submit, watch, sweep and compare PolyTrain jobs from the terminal; and the loss
// family offline (`polyctl loss`). One file per command in client/commands/.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/security_flags.h"
#include "client/commands/commands.h"
#include "common/grpc_logging.h"
#include "common/host_port.h"
#include "google/protobuf/stubs/logging.h"
#include "loss/tool/loss_commands.h"

namespace polytrain {
namespace {

int Main(int argc, char** argv) {
  // protobuf logs a string that is not UTF-8 as it serializes a request; the coordinator refuses
  // that request naming the field, which is the error the user reads. The raw log line is noise.
  google::protobuf::SetLogHandler(nullptr);
  CLI::App app{
      "polyctl: submit, watch, sweep and compare PolyTrain training jobs.\n"
      "Example: polyctl sweep examples/jobs/fashion_mnist_mlp_ce.txtpb "
      "--loss-grid 'poly1.epsilon=-1,0,1,2' --seeds 2 --wait"};
  app.footer(absl::StrCat(
      ExitCodesHelp(),
      "\nThe coordinator address comes from --coordinator, else $POLYTRAIN_COORDINATOR, else "
      "127.0.0.1:50051. The token comes from --token_file, else $POLYTRAIN_TOKEN. Without "
      "--tls_ca polyctl speaks plaintext, and only to a loopback address. These connection "
      "options (--coordinator, --token_file, --tls_ca, --tls_cert, --tls_key, "
      "--tls_server_name, --reconnect-seconds) go before or after the command; `polyctl --help` "
      "describes them."));
  app.require_subcommand(1);
  // Connection flags may come before or after the subcommand (`polyctl list --coordinator X`).
  app.fallthrough();
  const char* env = std::getenv("POLYTRAIN_COORDINATOR");
  std::string address = env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
  app.add_option("--coordinator", address,
                 "coordinator HOST:PORT (default: $POLYTRAIN_COORDINATOR, else 127.0.0.1:50051)")
      ->check(HostPortOption(AddressOption::kGrpc, 1, kCoordinatorAddressHelp));
  double reconnect_seconds = CoordinatorClient::kDefaultRewatchSeconds;
  app.add_option("--reconnect-seconds", reconnect_seconds,
                 "a watch (watch, --wait, --watch) whose coordinator goes away after it began "
                 "waits this long for it to come back, then exits 3 (0: at once); a submit, "
                 "sweep or search it went away during is sent again as long (its request id, "
                 "--request-id or a new one, keeps it from being stored twice)")
      ->check(FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  ClientSecurityOptions security;
  AddClientSecurityFlags(app, &security);

  const std::vector<Command> commands = {
      AddSubmitCommand(app),  AddSweepCommand(app),    AddSearchCommand(app),
      AddListCommand(app),    AddSweepsCommand(app),   AddGetCommand(app),
      AddCancelCommand(app),  AddDeleteCommand(app),   AddWatchCommand(app),
      AddCompareCommand(app), AddMetricsCommand(app),  AddCheckpointCommand(app),
      AddUploadCommand(app),  AddArtifactsCommand(app)};
  int loss_exit = kExitUsage;
  CLI::App* loss = app.add_subcommand("loss", "Inspect LossSpec files (no coordinator needed).");
  loss->require_subcommand(1);
  loss::AddLossCommands(*loss, "polyctl", &loss_exit);

  if (std::optional<int> exit = ParseCommandLine(app, argc, argv)) return *exit;
  if (*loss) return loss_exit;
  if (app.get_option("--coordinator")->count() == 0 && env != nullptr && *env != '\0') {
    // Named as what set it (probe CJ: a bad $POLYTRAIN_COORDINATOR was called --coordinator).
    if (absl::Status s =
            CheckHostPort("$POLYTRAIN_COORDINATOR", address, 1, kCoordinatorAddressHelp);
        !s.ok()) {
      std::cerr << "polyctl: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  SilenceGrpcLogs();  // each failed call's status is reported, with a hint where one helps
  CoordinatorClient client(address, security);
  client.set_rewatch_seconds(reconnect_seconds);
  for (const Command& command : commands) {
    if (*command.app) return command.run(client);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
