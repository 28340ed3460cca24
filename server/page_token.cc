#include "server/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace polytrain {
namespace {

constexpr size_t kQueryDigits = 8;

std::string QueryDigits(const PageQuery& query) {
  return Sha256Hex(query.key()).substr(0, kQueryDigits);
}

}  // namespace

PageQuery& PageQuery::Add(absl::string_view part) {
  absl::StrAppend(&key_, part.size(), ":", part, ";");
  return *this;
}

std::string BindPageToken(const std::string& position, const PageQuery& query) {
  if (position.empty()) return "";
  return absl::StrCat(position, ".", QueryDigits(query));
}

absl::StatusOr<std::string> PagePosition(absl::string_view token, const PageQuery& query,
                                         absl::string_view method) {
  if (token.empty()) return std::string();
  const size_t dot = token.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || token.size() - dot - 1 != kQueryDigits) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: not a token from a previous ", method));
  }
  if (token.substr(dot + 1) != QueryDigits(query)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token: a token of another ", method,
        " (other filters, or another caller); page with the request that gave it, changing "
        "only page_size"));
  }
  return std::string(token.substr(0, dot));
}

}  // namespace polytrain
