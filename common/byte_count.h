// A count of bytes as people and scripts both read it: "1073741824 bytes (1.00 GiB)", the exact
// number first. Quotas and sizes in messages and polyctl's tables say them so.
#ifndef POLYTRAIN_COMMON_BYTE_COUNT_H_
#define POLYTRAIN_COMMON_BYTE_COUNT_H_

#include <cstdint>
#include <string>

namespace polytrain {

// "1 byte", "512 bytes" (under 1 MiB, the number alone), "3145728 bytes (3.0 MiB)",
// "21474836480 bytes (20.00 GiB)" (from 1 GiB on).
std::string ByteCountText(int64_t bytes);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_BYTE_COUNT_H_
