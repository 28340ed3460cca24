// Where a run's metric points go: one interface, so that a standalone run (JSON lines, a
// terminal) and a worker in service mode (a gRPC stream) receive the same points.
#ifndef POLYTRAIN_WORKER_METRIC_SINK_H_
#define POLYTRAIN_WORKER_METRIC_SINK_H_

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
  // A resumed run starts at `step`: the points the file holds past it were written by the run
  // that ended after its checkpoint, and go, as the service deletes them; a point of a step up
  // to `step` emitted again (a run resumed at its end evaluates again) replaces the one of its
  // step and kind. The file is rewritten whole and renamed into place.
  absl::Status ResumeAt(int64_t step);

 private:
  JsonLinesMetricSink(std::string path, std::ofstream out)
      : path_(std::move(path)), out_(std::move(out)) {}
  // Rewrites the file with only the lines `keep` takes (a line that is not a point is kept),
  // through a temporary file renamed into place, and appends to it again.
  absl::Status Rewrite(const std::function<bool(const polytrain::v1::MetricPoint&)>& keep);
  absl::Status RewriteClosed(const std::function<bool(const polytrain::v1::MetricPoint&)>& keep);

  std::string path_;
  std::ofstream out_;
  int64_t resumed_step_ = -1;
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
