#include "common/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

// An error quotes what a client sent as a reader can read it: its characters as they are (a
// name in Chinese is not a row of \x escapes), and what prints as nothing or could be misread
// escaped, as Python's repr escapes it.
TEST(QuoteTest, ShowsCharactersAndEscapesWhatCannotBeSeen) {
  EXPECT_EQ(Quote("plain name"), "'plain name'");
  EXPECT_EQ(Quote("\xE6\xA8\xA1\xE5\x9E\x8B\xF0\x9F\x99\x82"),
            "'\xE6\xA8\xA1\xE5\x9E\x8B\xF0\x9F\x99\x82'");  // 模型🙂
  EXPECT_EQ(Quote("caf\xC3\xA9"), "'caf\xC3\xA9'");
  EXPECT_EQ(Quote(std::string("a\0b", 3)), "'a\\x00b'");  // two digits: a, NUL, b
  EXPECT_EQ(Quote("tab\there\nline\r\x7f\x1b"), "'tab\\there\\nline\\r\\x7f\\x1b'");
  EXPECT_EQ(Quote("it's a \\ path"), "'it\\'s a \\\\ path'");
  // Bytes that begin no character, and a sequence cut short.
  EXPECT_EQ(Quote("\xFF\xFE"), "'\\xff\\xfe'");
  EXPECT_EQ(Quote("x\xC3"), "'x\\xc3'");
  EXPECT_EQ(Quote("\xED\xA0\x80"), "'\\xed\\xa0\\x80'");  // a surrogate: not UTF-8
  // Characters that print as nothing or reorder the text around them.
  EXPECT_EQ(Quote("abc\xE2\x80\xAE"
                  "fed"),
            "'abc\\u202efed'");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(Quote("a\xE2\x80\x8B"
                  "b"),
            "'a\\u200bb'");                         // ZERO WIDTH SPACE
  EXPECT_EQ(Quote("\xC2\x85"), "'\\u0085'");        // NEXT LINE, a C1 control
  EXPECT_EQ(Quote("\xEF\xBB\xBFx"), "'\\ufeffx'");  // a byte-order mark
  EXPECT_EQ(Quote("a\xC2\xA0"
                  "b"),
            "'a\\u00a0b'");                               // NO-BREAK SPACE
  EXPECT_EQ(Quote("\xF3\xA0\x80\x81"), "'\\U000e0001'");  // LANGUAGE TAG
  // Cut after max_length bytes, between two characters, counting characters.
  EXPECT_EQ(Quote(std::string(100, 'a'), 4), "'aaaa...' (100 characters)");
  std::string chinese;
  for (int i = 0; i < 30; ++i) chinese += "\xE6\xA8\xA1";  // 模, 3 bytes each
  EXPECT_EQ(Quote(chinese, 64), "'" + chinese.substr(0, 63) + "...' (30 characters)");
  EXPECT_EQ(
      Quote(std::string(70, '\xFF'), 64), "'" + [] {
        std::string escaped;
        for (int i = 0; i < 64; ++i) escaped += "\\xff";
        return escaped;
      }() + "...' (70 bytes)");
}

}  // namespace
}  // namespace polytrain
