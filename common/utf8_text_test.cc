#include "common/utf8_text.h"

#include <string>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(Utf8TextTest, ValidTextIsKeptAndInvalidBytesAreReplaced) {
  const std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  EXPECT_TRUE(IsValidUtf8(valid));
  EXPECT_EQ(ToValidUtf8(valid), valid);
  EXPECT_TRUE(IsValidUtf8(""));
  for (const std::string& bad : {std::string("\xFF"), std::string("\xC3"),  // truncated
                                 std::string("\xC0\xAF"),                   // overlong '/'
                                 std::string("\xE0\x80\xAF"),               // overlong, 3 bytes
                                 std::string("\xED\xA0\x80"),               // a surrogate
                                 std::string("\xF4\x90\x80\x80"),           // past U+10FFFF
                                 std::string("\x80")}) {                    // a lone continuation
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(bad))) << bad;
  }
  EXPECT_EQ(ToValidUtf8("x\xFFy\xC3"), "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8TextTest, LengthCountsCharactersNotBytes) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 4u);  // a é € 😀
}

TEST(Utf8TextTest, APrefixNeverSplitsACharacter) {
  const std::string e_acute = "\xC3\xA9";
  std::string text = "a";
  for (int i = 0; i < 3000; ++i) text += e_acute;  // 6001 bytes
  const absl::string_view cut = Utf8Prefix(text, 4096);
  EXPECT_EQ(cut.size(), 4095u);  // 4096 would end inside an é
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_EQ(Utf8Prefix(text, 4097).size(), 4097u);
  EXPECT_EQ(Utf8Prefix("\xF0\x9F\x98\x80", 3), "");
  EXPECT_EQ(Utf8Prefix("short", 4096), "short");
  EXPECT_EQ(Utf8Prefix("abc", 0), "");
}

}  // namespace
}  // namespace polytrain
