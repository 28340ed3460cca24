// Page tokens of the list calls (ListJobs, ListArtifacts), bound to the query that made them: the
// store's position, then 8 hex digits of a hash of the query (the caller and the filters, not the
// page size). A token from another query or another caller is refused naming page_token, instead
// of answering a page of a query nobody asked for (as AIP-158 asks of an API).
#ifndef POLYTRAIN_SERVER_PAGE_TOKEN_H_
#define POLYTRAIN_SERVER_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// A query's identity: add each of its parts (in a fixed order), then give it to the two below.
class PageQuery {
 public:
  PageQuery& Add(absl::string_view part);
  const std::string& key() const { return key_; }

 private:
  std::string key_;  // each part with its length, so that no two lists of parts run together
};

// The token the answer carries for the store's `position` (empty: the last page, no token).
std::string BindPageToken(const std::string& position, const PageQuery& query);

// The store's position in `token` (empty for an empty token). INVALID_ARGUMENT naming page_token
// when it is not a token of `method` ("ListJobs"), or one of another query or caller.
absl::StatusOr<std::string> PagePosition(absl::string_view token, const PageQuery& query,
                                         absl::string_view method);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_PAGE_TOKEN_H_
