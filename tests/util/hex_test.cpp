#include <catch2/catch.hpp>

#include "util/hex.hpp"

using namespace p2p;

TEST_CASE("hex round trip", "[hex]") {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i)
    all[i] = static_cast<uint8_t>(i);
  auto hex = to_hex(all.data(), all.size());
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 6) == "000102");
  CHECK(hex.substr(hex.size() - 4) == "feff");
  CHECK(from_hex(hex) == all);
  CHECK(to_hex(nullptr, 0).empty());
  CHECK(from_hex("")->empty());
  CHECK(from_hex("ABcd") == std::vector<uint8_t>{0xab, 0xcd});
}

TEST_CASE("invalid hex", "[hex]") {
  CHECK_FALSE(from_hex("a"));
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK_FALSE(from_hex("0g"));
  CHECK_FALSE(from_hex(" 0"));
  CHECK_FALSE(from_hex(std::string("0\0", 2)));
}
