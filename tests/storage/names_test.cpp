#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "storage/names.hpp"

using p2p::name_from_json;
using p2p::name_to_json;
using p2p::printable_name;
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

TEST_CASE("bytes that are not UTF-8 are kept: names are bytes", "[names]") {
  CHECK(sanitize_name("\xe9t\xe9.txt") == "\xe9t\xe9.txt"); // Latin-1
  CHECK(sanitize_name("a\xff" "b") == "a\xff" "b");
  CHECK(sanitize_name("\xc3") == "\xc3");                     // truncated sequence
  CHECK(sanitize_name("\xc0\xaf") == "\xc0\xaf");            // overlong '/' is no '/'
  CHECK(sanitize_name("\xed\xa0\x80") == "\xed\xa0\x80");   // surrogate
  CHECK(sanitize_name(std::string(300, '\xe9'))->size() == 255);
}

TEST_CASE("JSON text of a name: backslash doubled, bytes outside UTF-8 as hex escapes",
          "[names]") {
  CHECK(name_to_json("plain.txt") == "plain.txt");
  CHECK(name_to_json("日本語 🎉.txt") == "日本語 🎉.txt");
  CHECK(name_to_json("\xe9t\xe9.txt") == "\\xe9t\\xe9.txt");
  CHECK(name_to_json("a\\b") == "a\\\\b");
  CHECK(name_to_json("a\\xe9") == "a\\\\xe9"); // a literal \xe9 stays distinct
  CHECK(name_to_json("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(name_to_json("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  // Control characters are valid UTF-8: JSON escapes them itself.
  CHECK(name_to_json("a\nb\x1b") == "a\nb\x1b");
}

TEST_CASE("JSON text of a name round-trips every byte string", "[names]") {
  std::string all;
  for (int c = 1; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  for (std::string n : {all, std::string("\\x41"), std::string("\\\\"),
                        std::string("\xe9t\xe9.txt"), std::string("x\xe2\x82"),
                        std::string("\xf4\x90\x80\x80"), std::string()}) {
    auto text = name_to_json(n);
    CHECK(p2p::is_utf8(text));
    CHECK(nlohmann::json(text).dump().size() > 0); // dump does not throw
    CHECK(name_from_json(text) == n);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string n;
    for (int k = 0; k < 1 + (i * 7) % 23; ++k)
      n.push_back(static_cast<char>((i * 131 + k * 977) % 256));
    CHECK(name_from_json(name_to_json(n)) == n);
  }
}

TEST_CASE("malformed JSON text of a name is refused", "[names]") {
  CHECK(name_from_json("\\xE9") == std::string("\xe9")); // upper-case hex accepted
  CHECK_FALSE(name_from_json("a\\"));     // lone backslash at the end
  CHECK_FALSE(name_from_json("a\\n"));    // not one of the two escapes
  CHECK_FALSE(name_from_json("\\x4"));    // one hex digit
  CHECK_FALSE(name_from_json("\\xg0"));   // not hex
  CHECK_FALSE(name_from_json("\\u00e9")); // JSON's escapes are JSON's, not ours
}

TEST_CASE("printable names: control bytes, DEL, C1 and bytes outside UTF-8 escaped",
          "[names]") {
  CHECK(printable_name("report.pdf") == "report.pdf");
  CHECK(printable_name("über 日本.txt") == "über 日本.txt");
  CHECK(printable_name("x\x1b[31mRED.txt") == "x\\x1b[31mRED.txt");
  CHECK(printable_name("a\nfake.txt   999 GiB") == "a\\x0afake.txt   999 GiB");
  CHECK(printable_name("del\x7f") == "del\\x7f");
  CHECK(printable_name("csi\xc2\x9b") == "csi\\xc2\\x9b"); // U+009B, the 8-bit CSI
  CHECK(printable_name("nbsp\xc2\xa0") == "nbsp\xc2\xa0");   // U+00A0 is printable
  CHECK(printable_name("\xe9t\xe9.txt") == "\\xe9t\\xe9.txt");
  CHECK(printable_name("a\\b") == "a\\\\b");
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  for (unsigned char c : printable_name(all))
    CHECK((c >= 0x20 && c != 0x7f)); // nothing a terminal acts on
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

TEST_CASE("folder paths are sanitised per component and never leave the output dir",
          "[names]") {
  using p2p::sanitize_path;
  CHECK(sanitize_path("DIR/sub/file.txt") == "DIR/sub/file.txt");
  CHECK(sanitize_path("/DIR//sub/") == "DIR/sub");
  CHECK(sanitize_path("a\nb/c\x1b") == "a_b/c_");
  CHECK(sanitize_path("d\\x/\xe9t\xe9") == "d_x/\xe9t\xe9");
  CHECK_FALSE(sanitize_path("../etc/passwd"));
  CHECK_FALSE(sanitize_path("DIR/../../x"));
  CHECK_FALSE(sanitize_path("DIR/./x"));
  CHECK_FALSE(sanitize_path("//"));
  CHECK_FALSE(sanitize_path(""));
  CHECK(sanitize_path(std::string(300, 'a') + "/b") == std::string(255, 'a') + "/b");
}

TEST_CASE("a part file name fits NAME_MAX whatever the final name", "[names]") {
  using p2p::part_path_of;
  CHECK(part_path_of("/o/file.bin") == "/o/file.bin.part");
  CHECK(part_path_of("/o/" + std::string(250, 'a')) == "/o/" + std::string(250, 'a') + ".part");
  for (size_t len : {251, 252, 254, 255}) {
    auto name = std::string(len, 'n');
    auto part = part_path_of("/o/d/" + name);
    INFO(len);
    REQUIRE(part.compare(0, 5, "/o/d/") == 0);
    auto file = part.substr(5);
    CHECK(file.size() <= 255);
    CHECK(file.size() >= 250);
    CHECK(file.substr(file.size() - 5) == ".part");
    CHECK(file.find('/') == std::string::npos);
  }
  // Two long names with the same start get different part files.
  auto a = part_path_of("/o/" + std::string(254, 'x') + "1");
  auto b = part_path_of("/o/" + std::string(254, 'x') + "2");
  CHECK(a != b);
  // The cut keeps UTF-8 sequences whole.
  std::string cjk;
  for (int i = 0; i < 85; ++i)
    cjk += "語"; // 255 bytes
  auto p = part_path_of("/" + cjk);
  CHECK(p.size() - 1 <= 255);
  CHECK(p2p::is_utf8(p));
}
