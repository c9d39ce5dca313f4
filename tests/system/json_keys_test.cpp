// `--json` documents carry the keys DESIGN.md promises, with the right types.
#include <set>

#include "tests/support/daemon.hpp"
#include "util/net.hpp"

using namespace p2p::test;
using nlohmann::json;

namespace {

bool is_content_id(const json& v) {
  if (!v.is_string() || v.get<std::string>().size() != 64)
    return false;
  for (char ch : v.get<std::string>())
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
      return false;
  return true;
}

bool is_addr(const json& v) {
  return v.is_string() && p2p::parse_host_port(v.get<std::string>()).has_value();
}

void check_share(const json& s) {
  INFO("share: " << s.dump());
  REQUIRE(s.is_object());
  CHECK(s["name"].is_string());
  CHECK(s["size"].is_number_unsigned());
  CHECK(is_content_id(s["id"]));
  CHECK(s["path"].is_string());
}

void check_download(const json& d) {
  INFO("download: " << d.dump());
  REQUIRE(d.is_object());
  CHECK(d["name"].is_string());
  CHECK(is_content_id(d["id"]));
  CHECK(d["size"].is_number_unsigned());
  static const std::set<std::string> states{"queued", "running", "complete", "failed",
                                            "cancelled"};
  REQUIRE(d["state"].is_string());
  CHECK(states.count(d["state"].get<std::string>()) == 1);
  CHECK(d["bytes_done"].is_number_unsigned());
  CHECK(d["out_path"].is_string());
  REQUIRE(d["peers"].is_array());
  for (auto& p : d["peers"]) {
    CHECK(is_addr(p["addr"]));
    CHECK(p["bytes"].is_number_unsigned());
  }
}

} // namespace

TEST_CASE("ls, status, peers and scan with --json print the documented keys",
          "[system][json]") {
  cluster c(2);
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/doc.bin", random_bytes(1024 * 1024 + 17, 3));
  auto shared = c.cli_json(0, {"share", src + "/doc.bin"});
  REQUIRE(shared["shares"].is_array());
  REQUIRE(shared["shares"].size() == 1);
  check_share(shared["shares"][0]);

  auto ls = c.wait_for_file(1, "doc.bin", 1);
  REQUIRE(ls.is_object());
  REQUIRE(ls["files"].is_array());
  for (auto& f : ls["files"]) {
    INFO("ls file: " << f.dump());
    CHECK(f["name"].is_string());
    CHECK(f["size"].is_number_unsigned());
    CHECK(is_content_id(f["id"]));
    REQUIRE(f["seeders"].is_array());
    CHECK_FALSE(f["seeders"].empty());
    for (auto& s : f["seeders"])
      CHECK(is_addr(s));
  }

  auto scan = c.cli_json(1, {"scan"});
  INFO("scan: " << scan.dump());
  CHECK(scan["peers"].is_number_unsigned());
  CHECK(scan["files"].is_number_unsigned());

  auto peers = c.cli_json(1, {"peers"});
  INFO("peers: " << peers.dump());
  REQUIRE(peers["peers"].is_array());
  REQUIRE(peers["peers"].size() == 1);
  auto& p = peers["peers"][0];
  CHECK(p["id"].is_string());
  CHECK(p["id"].get<std::string>().size() == 16);
  CHECK(p["addr"] == c.node(0).peer_addr());
  CHECK(p["files"] == 1);
  CHECK(p["last_seen_ms"].is_number());
  CHECK(p["source"] == "static");

  auto out = c.make_dir(c.root() + "/out");
  auto dl = c.cli_json(1, {"download", "-f", "doc.bin", "-o", out, "-w"}, 60s);
  INFO("download --json: " << dl.dump());
  check_download(dl["download"]);
  CHECK(dl["download"]["state"] == "complete");

  auto downloader = c.cli_json(1, {"status"});
  INFO("status of the downloader: " << downloader.dump());
  REQUIRE(downloader["shares"].is_array());
  REQUIRE(downloader["downloads"].is_array());
  REQUIRE(downloader["downloads"].size() == 1);
  check_download(downloader["downloads"][0]);
  REQUIRE(downloader["uploads"].is_object());
  CHECK(downloader["uploads"]["bytes_total"].is_number_unsigned());
  CHECK(downloader["uploads"]["active"].is_number_unsigned());

  auto seeder = c.cli_json(0, {"status"});
  INFO("status of the seeder: " << seeder.dump());
  REQUIRE(seeder["shares"].is_array());
  REQUIRE(seeder["shares"].size() == 1);
  check_share(seeder["shares"][0]);
  CHECK(seeder["uploads"]["bytes_total"].get<uint64_t>() >= 1024 * 1024 + 17);
  CHECK(seeder["downloads"].is_array());
}
