#include <catch2/catch.hpp>

#include "storage/names.hpp"

using p2p::sanitize_name;

TEST_CASE("normal names are unchanged", "[names]") {
  for (std::string n : {"file.txt", "My Movie (2020).mkv", "...", "a..b", ".hidden",
                        "über-größe.tar.gz", "日本語.txt", "emoji 🎉.png", "-dash"})
    CHECK(sanitize_name(n) == n);
}

TEST_CASE("separators and control characters are replaced", "[names]") {
  CHECK(sanitize_name("a/b") == "a_b");
  CHECK(sanitize_name("/etc/passwd") == "_etc_passwd");
  CHECK(sanitize_name("a\\b") == "a_b");
  CHECK(sanitize_name("../../x") == ".._.._x");
  CHECK(sanitize_name("..\\..\\x") == ".._.._x");
  CHECK(sanitize_name(std::string("a\0b", 3)) == "a_b");
  CHECK(sanitize_name("a\nb\tc\x1b\x7f") == "a_b_c__");
  CHECK(sanitize_name("/") == "_");
}

TEST_CASE("unusable names", "[names]") {
  CHECK_FALSE(sanitize_name(""));
  CHECK_FALSE(sanitize_name("."));
  CHECK_FALSE(sanitize_name(".."));
}

TEST_CASE("invalid UTF-8 bytes are replaced", "[names]") {
  CHECK(sanitize_name("a\xff" "b") == "a_b");
  CHECK(sanitize_name("\xc3") == "_");            // truncated sequence
  CHECK(sanitize_name("\xc0\xaf") == "__");       // overlong '/'
  CHECK(sanitize_name("\xed\xa0\x80") == "___");  // surrogate
}

TEST_CASE("long names are cut on a UTF-8 boundary", "[names]") {
  CHECK(sanitize_name(std::string(300, 'a')) == std::string(255, 'a'));
  CHECK(sanitize_name(std::string(255, 'a')) == std::string(255, 'a'));
  // 254 ASCII bytes + a 2-byte character: the character does not fit.
  auto n = std::string(254, 'a') + "é";
  CHECK(sanitize_name(n) == std::string(254, 'a'));
  // 100 three-byte characters = 300 bytes -> 85 characters = 255 bytes.
  std::string cjk;
  for (int i = 0; i < 100; ++i)
    cjk += "語";
  auto out = sanitize_name(cjk);
  REQUIRE(out);
  CHECK(out->size() == 255);
  CHECK(*out == cjk.substr(0, 255));
  // 4-byte characters: 255 is not a multiple of 4, so 252 bytes remain.
  std::string emoji;
  for (int i = 0; i < 70; ++i)
    emoji += "🎉";
  out = sanitize_name(emoji);
  REQUIRE(out);
  CHECK(out->size() == 252);
}
