// The wall clock as a protobuf Timestamp, to the nanosecond. (protobuf 3.21's
// TimeUtil::GetCurrentTime() reads time(), so its timestamps have whole seconds only.)
#ifndef POLYTRAIN_COMMON_TIMESTAMPS_H_
#define POLYTRAIN_COMMON_TIMESTAMPS_H_

#include <string>

#include "google/protobuf/timestamp.pb.h"

namespace polytrain {

google::protobuf::Timestamp NowTimestamp();
// "2026-12-01 23:58:43": the time in UTC to the second, as polyctl's tables show it.
std::string TimestampText(const google::protobuf::Timestamp& time);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_TIMESTAMPS_H_
