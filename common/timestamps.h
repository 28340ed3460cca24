// The wall clock as a protobuf Timestamp, to the nanosecond. (protobuf 3.21's
// TimeUtil::GetCurrentTime() reads time(), so its timestamps have whole seconds only.)
#ifndef POLYTRAIN_COMMON_TIMESTAMPS_H_
#define POLYTRAIN_COMMON_TIMESTAMPS_H_

#include "google/protobuf/timestamp.pb.h"

namespace polytrain {

google::protobuf::Timestamp NowTimestamp();

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_TIMESTAMPS_H_
