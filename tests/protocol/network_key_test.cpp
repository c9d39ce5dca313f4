#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "protocol/network_key.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/hex.hpp"

using namespace p2p;

namespace {

const std::string good_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

key_bytes counting_key() {
  key_bytes k;
  for (size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<uint8_t>(i);
  return k;
}

std::string key_file(const test::temp_dir& dir, const std::string& text, mode_t mode) {
  auto path = dir.path() + "/k";
  ::unlink(path.c_str());
  test::write_file(path, text);
  ::chmod(path.c_str(), mode);
  return path;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

} // namespace

TEST_CASE("a key file is 64 hex digits and at most one newline", "[network_key]") {
  CHECK(parse_network_key(good_hex) == counting_key());
  CHECK(parse_network_key(good_hex + "\n") == counting_key());
  CHECK(parse_network_key(good_hex + "\r\n") == counting_key());
  std::string upper = good_hex;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(parse_network_key(upper) == counting_key());
}

TEST_CASE("malformed key texts are refused", "[network_key]") {
  for (std::string bad : {std::string{}, std::string{"\n"}, good_hex.substr(0, 62),
                          good_hex + "00", good_hex + "\n\n", " " + good_hex,
                          good_hex + " ", "zz" + good_hex.substr(2),
                          good_hex.substr(0, 32) + std::string(1, '\0') + good_hex.substr(33),
                          std::string(64, 'g')})
    CHECK_FALSE(parse_network_key(bad));
}

TEST_CASE("a key file readable by group or others is refused", "[network_key]") {
  test::temp_dir dir;
  std::string err;
  CHECK(load_network_key(key_file(dir, good_hex + "\n", 0600), err) == counting_key());
  CHECK(err.empty());
  CHECK(load_network_key(key_file(dir, good_hex + "\n", 0400), err));
  for (mode_t bad : {0640, 0604, 0644, 0660, 0602, 0620}) {
    err.clear();
    CHECK_FALSE(load_network_key(key_file(dir, good_hex + "\n", bad), err));
    CHECK(err.find("group or others") != std::string::npos);
    CHECK(err.find(good_hex) == std::string::npos); // the key never in a message
  }
}

TEST_CASE("hostile key files are refused without showing their contents", "[network_key]") {
  test::temp_dir dir;
  std::string err;
  SECTION("missing") {
    CHECK_FALSE(load_network_key(dir.path() + "/none", err));
    CHECK(err.find("No such file") != std::string::npos);
  }
  SECTION("a directory") {
    auto d = dir.path() + "/d";
    ::mkdir(d.c_str(), 0700);
    CHECK_FALSE(load_network_key(d, err));
    CHECK(err.find("not a regular file") != std::string::npos);
  }
  SECTION("malformed") {
    CHECK_FALSE(load_network_key(key_file(dir, "secret-but-not-hex\n", 0600), err));
    CHECK(err.find("malformed") != std::string::npos);
    CHECK(err.find("secret") == std::string::npos);
  }
  SECTION("huge") {
    CHECK_FALSE(load_network_key(key_file(dir, std::string(1 << 20, 'a'), 0600), err));
    CHECK(err.find("malformed") != std::string::npos);
  }
  SECTION("empty") {
    CHECK_FALSE(load_network_key(key_file(dir, "", 0600), err));
    CHECK(err.find("malformed") != std::string::npos);
  }
  SECTION("a fifo is not read (no hang)") {
    auto f = dir.path() + "/fifo";
    ::mkfifo(f.c_str(), 0600);
    CHECK_FALSE(load_network_key(f, err));
    CHECK(err.find("not a regular file") != std::string::npos);
  }
}

TEST_CASE("a new key file is 0600, parses, and never replaces a file", "[network_key]") {
  test::temp_dir dir;
  auto path = dir.path() + "/new.key";
  auto old_mask = ::umask(0);
  auto err = write_new_network_key(path);
  ::umask(old_mask);
  REQUIRE(err.empty());
  CHECK(mode_of(path) == 0600);
  std::string load_err;
  auto first = load_network_key(path, load_err);
  REQUIRE(first);
  SECTION("an existing file is kept as it was") {
    CHECK(write_new_network_key(path).find("exists") != std::string::npos);
    CHECK(load_network_key(path, load_err) == first);
  }
  SECTION("a symlink is not followed") {
    auto link = dir.path() + "/link.key";
    auto target = dir.path() + "/target";
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    CHECK_FALSE(write_new_network_key(link).empty());
    CHECK(::access(target.c_str(), F_OK) != 0);
  }
  SECTION("two keys differ") {
    auto other = dir.path() + "/other.key";
    REQUIRE(write_new_network_key(other).empty());
    CHECK(load_network_key(other, load_err) != first);
  }
}

TEST_CASE("derived keys are HKDF-SHA256 with one label each", "[network_key]") {
  // Expected values from Python's hmac module (RFC 5869 with an empty salt).
  auto s = derive_secrets(counting_key());
  CHECK(to_hex(s.datagram.data(), 32)
        == "5c843f35df99b9b8005e0b7196d7bc751f75b59c84b3b97af7e7910c2357a05d");
  CHECK(to_hex(s.hello.data(), 32)
        == "8a0195e298da18c923164d48e2b09354235221a50adac593555818064cff52aa");
  CHECK(to_hex(s.tls.data(), 32)
        == "4805b19a8b9c5753604bed5eb32452028916d814518771b28f6fb7042aad5419");
  auto tag = hmac_sha256(counting_key(), "abc", 3);
  CHECK(to_hex(tag.data(), 32)
        == "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47");
  CHECK(same_tag(tag, tag.data()));
  auto other = tag;
  other[31] ^= 1;
  CHECK_FALSE(same_tag(tag, other.data()));
}
