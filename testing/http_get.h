// A minimal HTTP/1.0 GET for tests that read a real /metrics endpoint on 127.0.0.1.
#ifndef POLYTRAIN_TESTING_HTTP_GET_H_
#define POLYTRAIN_TESTING_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace polytrain::testing {

// The response body, or "" when the connection fails (or, with `timeout_seconds`, when the
// answer has not come within it).
inline std::string HttpGet(int port, const std::string& path, int timeout_seconds = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  if (timeout_seconds > 0) {
    const timeval timeout{timeout_seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[65536];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// One series' value in a /metrics body (the whole series, labels included: `name{a="b"}`), or
// -1 when absent. Reading several series from one body compares values of the same moment;
// separate scrapes may straddle an update.
inline double SeriesValue(const std::string& body, const std::string& series) {
  const size_t at = body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + series.size() + 2));
}

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_HTTP_GET_H_
