// The worker's service mode as a process: trains what the coordinator assigns until SIGINT or
// SIGTERM, then gives its running jobs back (up to --drain_seconds) and exits; a second signal
// ends it at once. Serves /metrics when asked, and exits 6 when a job stuck past its cancel made
// it stop.
#ifndef POLYTRAIN_WORKER_SERVICE_PROCESS_H_
#define POLYTRAIN_WORKER_SERVICE_PROCESS_H_

#include <string>

#include "worker/service_worker.h"

namespace polytrain {

// How long a SIGTERM waits by default (--drain_seconds) for running jobs to stop and the
// coordinator to take them back: with the kStuckSeconds that may follow, within the 30 s a
// Kubernetes pod gets by default (deploy/ sets the grace periods; deploy_test checks them).
inline constexpr int kDefaultDrainSeconds = 20;

// Runs until stopped; the process's exit code. `metrics_listen` empty: no /metrics;
// `metrics_port_file` (with it) gets the port bound. A signal gives the jobs back for up to
// `drain_seconds`.
int RunServiceProcess(ServiceWorker::Options options, const std::string& metrics_listen,
                      const std::string& metrics_port_file, int drain_seconds);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SERVICE_PROCESS_H_
