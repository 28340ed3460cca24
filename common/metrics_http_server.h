// The /metrics HTTP endpoint of the coordinator and the worker.
//
// Why not prometheus-cpp's Exposer: it runs on civetweb, which gives each connection a thread
// until its request is whole (idle connections held scrapes for seconds) and which Debian builds
// to start its threads with 100 KiB stacks: in a process that loads LibTorch the static TLS
// alone exceeds that, so pthread_create fails ("null context when constructing CivetServer").
// This server runs one thread with a default stack and answers GET (and HEAD) /metrics with the
// registry in Prometheus text format. It waits on every open connection at once (poll), so a
// client that connects and says nothing never delays a scrape: it is closed after
// kRequestSeconds, or when kMaxConnections newer ones are open.
#ifndef POLYTRAIN_COMMON_METRICS_HTTP_SERVER_H_
#define POLYTRAIN_COMMON_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace polytrain {

class MetricsHttpServer {
 public:
  static constexpr int kMaxConnections = 64;
  static constexpr double kRequestSeconds = 5.0;  // to send the whole request
  static constexpr size_t kMaxRequestBytes = 16 * 1024;

  // Listens on "host:port" or "[v6]:port", the host an address or a name of this machine (port
  // 0 picks a free one); else INVALID_ARGUMENT naming --metrics_listen. `before_scrape`, if
  // set, runs before each scrape's collection (to refresh gauges read from elsewhere).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry,
      std::function<void()> before_scrape = nullptr);
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer(int fd, int port, std::shared_ptr<prometheus::Registry> registry,
                    std::function<void()> before_scrape);
  void Serve();
  // The response to a whole request (its line and headers).
  std::string Respond(const std::string& request);

  int fd_;
  int port_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<void()> before_scrape_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_METRICS_HTTP_SERVER_H_
