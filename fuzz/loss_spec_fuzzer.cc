// Fuzzes a LossSpec on its own (polyloss --spec, the loss field of every job, the losses of a
// sweep): binary or text proto -> validation -> canonical form -> L(pt) and dL/dpt from the loss
// core. The loss is the one part of a job that is arbitrary numbers, so this is where NaNs,
// infinities, huge term counts and coefficients at the edge of their ranges get tried.
//
// Input: byte 0 picks the format (bit 0 clear: binary, set: text); byte 1 says how many extra
// pt values follow (0 to 4), each as 8 raw bytes of a double folded into [0, 1]; the rest is the
// spec.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/proto_file.h"
#include "fuzz/fuzz_checks.h"
#include "polytrain/v1/loss.pb.h"

namespace {

// Any finite double to a probability: |d|, then 1/|d| above 1; nonzero values below 1e-300
// become 1e-300 (dL/dpt = -1/pt would overflow there, which is arithmetic, not a bug).
bool FoldToPt(double d, double* pt) {
  if (!std::isfinite(d)) return false;
  double p = std::fabs(d);
  if (p > 1.0) p = 1.0 / p;
  if (p != 0.0 && p < 1e-300) p = 1e-300;
  *pt = p;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  polytrain::fuzz::SilenceProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool text = (data[0] & 1) != 0;
  const size_t extra = data[1] % 5;
  size_t offset = 2;
  std::vector<double> pts = polytrain::fuzz::StandardPts();
  for (size_t i = 0; i < extra && offset + sizeof(double) <= size; ++i) {
    double d;
    std::memcpy(&d, data + offset, sizeof(d));
    offset += sizeof(d);
    double pt;
    if (FoldToPt(d, &pt)) pts.push_back(pt);
  }
  const absl::string_view payload(reinterpret_cast<const char*>(data) + offset, size - offset);

  polytrain::v1::LossSpec spec;
  if (text) {
    if (!polytrain::ParseProto(payload, polytrain::ProtoFormat::kText, "loss.txtpb", &spec).ok()) {
      return 0;
    }
  } else if (!spec.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return 0;
  }
  polytrain::fuzz::CheckLossSpec(spec, "", pts);
  // The same spec inside a job reports its errors under the job's path.
  polytrain::fuzz::CheckLossSpec(spec, "spec.loss", {0.5});
  return 0;
}
