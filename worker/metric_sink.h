// Where a run's metric points go: one interface, so that a standalone run (JSON lines, a
// terminal) and a worker in service mode (a gRPC stream) receive the same points.
#ifndef POLYTRAIN_WORKER_METRIC_SINK_H_
#define POLYTRAIN_WORKER_METRIC_SINK_H_

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/metrics.pb.h"

namespace polytrain {

class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void Emit(const polytrain::v1::MetricPoint& point) = 0;
};

// One JSON object per line (protobuf's JSON mapping, proto field names), flushed per point.
class JsonLinesMetricSink : public MetricSink {
 public:
  // Creates (truncates) the file, or appends to it when `append` (a resumed run).
  static absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> Create(const std::string& path,
                                                                     bool append);
  void Emit(const polytrain::v1::MetricPoint& point) override;

 private:
  explicit JsonLinesMetricSink(std::ofstream out) : out_(std::move(out)) {}
  std::ofstream out_;
};

// Human progress on a stream: on a terminal one line rewritten in place, otherwise one line per
// training point; evaluations always get their own line.
class ProgressMetricSink : public MetricSink {
 public:
  ProgressMetricSink(std::FILE* out, int64_t total_steps);
  void Emit(const polytrain::v1::MetricPoint& point) override;

 private:
  std::FILE* out_;
  int64_t total_steps_;
  bool terminal_;
  bool line_open_ = false;
};

// Sends every point to each of several sinks.
class FanoutMetricSink : public MetricSink {
 public:
  explicit FanoutMetricSink(std::vector<MetricSink*> sinks) : sinks_(std::move(sinks)) {}
  void Emit(const polytrain::v1::MetricPoint& point) override {
    for (MetricSink* sink : sinks_) sink->Emit(point);
  }

 private:
  std::vector<MetricSink*> sinks_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_METRIC_SINK_H_
