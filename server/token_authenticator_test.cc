#include "server/token_authenticator.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAliceToken[] = "alice-token-0123456789abcdef";
constexpr char kPoolToken[] = "pool-token-0123456789abcdef";
constexpr char kOpsToken[] = "ops-token-0123456789abcdef";

std::string TokensFile() {
  return absl::StrCat("# role name hash\n", "client alice ", HashToken(kAliceToken), "\n",
                      "\n  worker\tpool-a   ", HashToken(kPoolToken), "  \n", "admin ops ",
                      HashToken(kOpsToken), "\n");
}

TEST(HashTokenTest, IsSha256InLowercaseHex) {
  // sha256("test"), as printed by `printf test | sha256sum`.
  EXPECT_EQ(HashToken("test"),
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(TokenAuthenticatorTest, EachTokenYieldsItsRoleAndName) {
  absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(TokensFile(), "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 3u);
  struct Case {
    const char* token;
    Role role;
    const char* name;
  };
  for (const Case& c :
       {Case{kAliceToken, Role::kClient, "alice"}, Case{kPoolToken, Role::kWorker, "pool-a"},
        Case{kOpsToken, Role::kAdmin, "ops"}}) {
    absl::StatusOr<Principal> principal = tokens->Authenticate(absl::StrCat("Bearer ", c.token));
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(principal->role, c.role);
    EXPECT_EQ(principal->name, c.name);
  }
}

TEST(TokenAuthenticatorTest, TheSchemeIsCaseInsensitive) {
  absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(TokensFile(), "tokens");
  ASSERT_TRUE(tokens.ok());
  for (const char* scheme : {"bearer ", "BEARER ", "bEaReR "}) {
    absl::StatusOr<Principal> principal = tokens->Authenticate(absl::StrCat(scheme, kAliceToken));
    ASSERT_TRUE(principal.ok()) << scheme << principal.status();
    EXPECT_EQ(principal->name, "alice");
  }
  // Whitespace around the value is no part of it (HTTP's OWS), as a proxy may leave it.
  for (const std::string& header :
       {absl::StrCat("Bearer ", kAliceToken, " "), absl::StrCat(" Bearer ", kAliceToken, "\t")}) {
    absl::StatusOr<Principal> principal = tokens->Authenticate(header);
    ASSERT_TRUE(principal.ok()) << header << principal.status();
    EXPECT_EQ(principal->name, "alice");
  }
}

TEST(TokenAuthenticatorTest, RefusesMissingMalformedAndUnknownTokens) {
  absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(TokensFile(), "tokens");
  ASSERT_TRUE(tokens.ok());
  for (const std::string& header :
       {std::string(""), std::string("Bearer "), std::string(kAliceToken),
        absl::StrCat("Basic ", kAliceToken), absl::StrCat("Bearer", kAliceToken),
        absl::StrCat("Bearer ", kAliceToken, "x"), absl::StrCat("Bearer  ", kAliceToken),
        absl::StrCat("Bearer ", HashToken(kAliceToken))}) {
    absl::StatusOr<Principal> principal = tokens->Authenticate(header);
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated) << header;
    // The refusal never repeats what was presented.
    EXPECT_THAT(principal.status().message(), Not(HasSubstr(kAliceToken)));
  }
}

TEST(TokenAuthenticatorTest, BadFilesNameTheLineAndNeverEchoTheSecretField) {
  struct Case {
    std::string text;
    const char* error;
  };
  const std::string hash = HashToken(kAliceToken);
  for (const Case& c : {
           Case{"", "tokens: no tokens"},
           Case{"# only a comment\n", "tokens: no tokens"},
           Case{"client alice\n", "tokens:1: expected 'ROLE NAME sha256:HEX', got 2 fields"},
           Case{"\nroot alice " + hash, "tokens:2: role must be client, worker or admin"},
           Case{"client al/ice " + hash, "tokens:1: name must be 1 to 64"},
           Case{"client " + std::string(65, 'a') + " " + hash, "tokens:1: name must be 1 to 64"},
           Case{"client alice " + std::string(kAliceToken), "tokens:1: the third field"},
           Case{"client alice sha256:ABC", "tokens:1: the third field"},
           Case{"client alice " + hash.substr(0, hash.size() - 1) + "G",
                "tokens:1: the third field"},
           Case{"client alice " + hash + "\nadmin ops " + hash,
                "tokens:2: the same token hash appears twice"},
           Case{"client alice " + hash + "\nadmin alice " + HashToken("another-token-123456"),
                "tokens:2: 'alice' has another role on an earlier line"},
           // A token pasted into the role or the name column.
           Case{"Client alice " + hash,
                "tokens:1: role must be client, worker or admin, got "
                "'Client'"},
           Case{std::string(kAliceToken) + " alice " + hash,
                "tokens:1: role must be client, worker or admin, got a field of 28 characters "
                "(not shown)"},
           Case{"client ops " + HashToken("another-token-123456") + "\nclient " +
                    std::string(kAliceToken) + " " + hash,
                "tokens:2: the name is one of the file's tokens"},
           Case{"client " + std::string(kAliceToken) + " " + HashToken("another-token-123456") +
                    "\nclient ops " + hash,
                "tokens:1: the name is one of the file's tokens"},
       }) {
    absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(c.text, "tokens");
    ASSERT_FALSE(tokens.ok()) << c.text;
    EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tokens.status().message(), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(tokens.status().message(), Not(HasSubstr(kAliceToken)));
  }
  // A 64-character name is the longest allowed.
  EXPECT_TRUE(
      TokenAuthenticator::Parse("client " + std::string(64, 'a') + " " + hash, "tokens").ok());
}

TEST(TokenAuthenticatorTest, AtMostTenThousandTokens) {
  std::string text;
  for (int i = 0; i < TokenAuthenticator::kMaxTokens; ++i) {
    absl::StrAppend(&text, "client u", i, " ", HashToken(absl::StrCat("token-number-", i)), "\n");
  }
  absl::StatusOr<TokenAuthenticator> full = TokenAuthenticator::Parse(text, "tokens");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->size(), static_cast<size_t>(TokenAuthenticator::kMaxTokens));
  absl::StrAppend(&text, "client extra ", HashToken("token-number-extra"), "\n");
  absl::StatusOr<TokenAuthenticator> over = TokenAuthenticator::Parse(text, "tokens");
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(over.status().message(), HasSubstr("at most 10000 tokens"));
}

TEST(TokenAuthenticatorTest, ReadFileNamesTheFlag) {
  absl::StatusOr<TokenAuthenticator> tokens =
      TokenAuthenticator::ReadFile("/nonexistent/tokens.txt");
  ASSERT_FALSE(tokens.ok());
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokens.status().message(), HasSubstr("--tokens /nonexistent/tokens.txt"));
}

}  // namespace
}  // namespace polytrain
