// Waiting for an outcome in a test: a condition polled until it holds or a bound passes.
#ifndef POLYTRAIN_TESTING_WAIT_FOR_H_
#define POLYTRAIN_TESTING_WAIT_FOR_H_

#include <chrono>
#include <functional>
#include <thread>

namespace polytrain::testing {

// Polls `done` every 20 ms until it holds or `seconds` pass: waits for an outcome, it does not
// stand in for one.
inline bool WaitFor(const std::function<bool()>& done, double seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_WAIT_FOR_H_
