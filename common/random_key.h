// Secrets drawn from OpenSSL's random generator: session keys a peer proves itself by.
#ifndef POLYTRAIN_COMMON_RANDOM_KEY_H_
#define POLYTRAIN_COMMON_RANDOM_KEY_H_

#include <string>

namespace polytrain {

// `bytes` random bytes in lowercase hex (2 * bytes digits).
std::string RandomHexKey(int bytes);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_RANDOM_KEY_H_
