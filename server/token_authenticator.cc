#include "server/token_authenticator.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/flag_file.h"
#include "common/grpc_security.h"
#include "common/sha256.h"

namespace polytrain {
namespace {

constexpr absl::string_view kHashPrefix = "sha256:";
constexpr absl::string_view kBearer = "Bearer ";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool ParseHash(absl::string_view text, std::array<uint8_t, 32>* hash) {
  if (!absl::ConsumePrefix(&text, kHashPrefix) || text.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*hash)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kClient:
      return "client";
    case Role::kWorker:
      return "worker";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::string HashToken(absl::string_view token) {
  return absl::StrCat(kHashPrefix, Sha256Hex(token));
}

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::Parse(absl::string_view text,
                                                             absl::string_view source) {
  TokenAuthenticator authenticator;
  int line_number = 0;
  std::vector<int> entry_lines;  // each entry's line in `text`
  // Sorted containers keep a file of kMaxTokens lines O(n log n) to check.
  std::set<Sha256Digest> hashes;
  std::map<std::string, Role, std::less<>> roles_by_name;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const std::string where = absl::StrCat(source, ":", line_number, ": ");
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected 'ROLE NAME sha256:HEX', got ", fields.size(), " fields"));
    }
    Entry entry;
    if (fields[0] == "client") {
      entry.principal.role = Role::kClient;
    } else if (fields[0] == "worker") {
      entry.principal.role = Role::kWorker;
    } else if (fields[0] == "admin") {
      entry.principal.role = Role::kAdmin;
    } else {
      // Echoed only when too short to be a token pasted into the wrong column.
      return absl::InvalidArgumentError(absl::StrCat(
          where, "role must be client, worker or admin, got ",
          fields[0].size() < kMinTokenLength
              ? absl::StrCat("'", fields[0], "'")
              : absl::StrCat("a field of ", fields[0].size(), " characters (not shown)")));
    }
    const absl::string_view name = fields[1];
    if (name.empty() || name.size() > kMaxNameLength ||
        !std::all_of(name.begin(), name.end(), IsNameChar)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "name must be 1 to ", kMaxNameLength,
                                                     " characters from [A-Za-z0-9._-]"));
    }
    entry.principal.name = std::string(name);
    if (!ParseHash(fields[2], &entry.hash)) {
      // Never echo the field: it may be a token pasted by mistake.
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       "the third field must be sha256: and 64 lowercase hex digits (make one with "
                       "polytrain-coordinator --hash_token)"));
    }
    entry.principal.fingerprint = ToHex(entry.hash);
    if (!hashes.insert(entry.hash).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the same token hash appears twice"));
    }
    // Several tokens of one name (a rotation) share its role: one name, one owner, one role.
    const auto [named, first_of_name] = roles_by_name.emplace(name, entry.principal.role);
    if (!first_of_name && named->second != entry.principal.role) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "'", name,
                       "' has another role on an earlier line (one name, one "
                       "role: give the other role's tokens another name)"));
    }
    if (static_cast<int>(authenticator.entries_.size()) == kMaxTokens) {
      return absl::InvalidArgumentError(absl::StrCat(where, "at most ", kMaxTokens, " tokens"));
    }
    authenticator.entries_.push_back(std::move(entry));
    entry_lines.push_back(line_number);
  }
  if (authenticator.entries_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no tokens"));
  }
  // A name is public (logs, Job.owner, listings): one that is itself a token of the file, pasted
  // into the wrong column, is refused without saying which.
  for (size_t i = 0; i < authenticator.entries_.size(); ++i) {
    if (hashes.count(Sha256(authenticator.entries_[i].principal.name)) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ":", entry_lines[i],
          ": the name is one of the file's tokens (names are shown in logs and listings; "
          "give a token only as its hash, in the third field)"));
    }
  }
  return authenticator;
}

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::ReadFile(const std::string& path) {
  // kMaxTokens lines of a name, a role and a SHA-256 fit in a few MiB.
  absl::StatusOr<std::string> text = ReadFlagFile("--tokens", path, int64_t{16} << 20);
  if (!text.ok()) return text.status();
  return Parse(*text, absl::StrCat("--tokens ", path));
}

absl::StatusOr<Principal> TokenAuthenticator::Authenticate(absl::string_view authorization) const {
  // Whitespace around a field's value is not part of it (RFC 9110 5.5): a proxy may leave some.
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "no token: send the metadata 'authorization: Bearer <token>' (polyctl and the worker: "
        "--token_file or $POLYTRAIN_TOKEN; the Python client: Client(token=...) or "
        "$POLYTRAIN_TOKEN)");
  }
  // The scheme's name is case-insensitive (RFC 7235), as gRPC clients of other languages send it.
  if (!absl::StartsWithIgnoreCase(authorization, kBearer) ||
      authorization.size() == kBearer.size()) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <token>'");
  }
  authorization.remove_prefix(kBearer.size());
  const std::array<uint8_t, 32> presented = Sha256(authorization);
  // Every entry is compared, whether or not an earlier one matched.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal = CRYPTO_memcmp(entry.hash.data(), presented.data(), presented.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown token");
  return match->principal;
}

bool TokenAuthenticator::HasWorkerToken(absl::string_view fingerprint) const {
  for (const Entry& entry : entries_) {
    if (entry.principal.fingerprint == fingerprint && entry.principal.role != Role::kClient) {
      return true;
    }
  }
  return false;
}

}  // namespace polytrain
