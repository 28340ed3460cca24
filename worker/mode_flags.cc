#include "worker/mode_flags.h"

#include <iostream>
#include <utility>
#include <vector>

namespace polytrain {

void WarnOfTheOtherModesFlags(const CLI::App& app, bool spec_run) {
  if (!spec_run) {
    // Probe CJ: service mode ignored these without a word.
    for (const auto& [flag, why] : std::vector<std::pair<const char*, const char*>>{
             {"--metrics_out", "metrics go to the coordinator"},
             {"--resume", "every job resumes from its last checkpoint"},
             {"--quiet", "it shows no progress; --log_level sets what it logs"}}) {
      if (app.count(flag) > 0) {
        std::cerr << "polytrain-worker: " << flag
                  << " is for a --spec run; service mode (--coordinator) ignores it (" << why
                  << ")\n";
      }
    }
    return;
  }
  // A standalone run takes its threads and device from the spec.
  for (const char* flag : {"--name",
                           "--slots",
                           "--device",
                           "--gpus",
                           "--threads",
                           "--metrics_listen",
                           "--metrics_port_file",
                           "--artifact_cache_dir",
                           "--artifact_cache_bytes",
                           "--advertise_address",
                           "--replica_timeout_seconds",
                           "--gang_in_process",
                           "--checkpoint_keep_hours",
                           "--cancel_grace_seconds",
                           "--drain_seconds",
                           "--tls_ca",
                           "--tls_cert",
                           "--tls_key",
                           "--tls_server_name",
                           "--token_file"}) {
    if (app.count(flag) > 0) {
      std::cerr << "polytrain-worker: " << flag
                << " is for service mode (--coordinator); a --spec run ignores it (its spec "
                   "sets threads and device)\n";
    }
  }
}

}  // namespace polytrain
