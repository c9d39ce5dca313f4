// The web page of p2p-daemon --http (issue 13, item 5): real daemons on
// loopback, requests with cpp-httplib's client. Headless Chromium renders
// the page in tests/web.
#include <filesystem>
#include <functional>

#include "tests/support/daemon.hpp"
#include "tests/support/web_client.hpp"

using namespace p2p::test;

namespace {

// The JSON document's shape: every value replaced by its type name, arrays
// by the shapes of their elements.
nlohmann::json shape(const nlohmann::json& j) {
  if (j.is_object()) {
    auto out = nlohmann::json::object();
    for (auto& [k, v] : j.items())
      out[k] = shape(v);
    return out;
  }
  if (j.is_array()) {
    auto out = nlohmann::json::array();
    for (auto& v : j)
      out.push_back(shape(v));
    return out;
  }
  return j.is_number() ? "number" : j.type_name(); // unsigned and signed alike
}

} // namespace

TEST_CASE("web: every request without the control token gets 401, with it 200",
          "[system][web]") {
  cluster c(1, {"--http", "127.0.0.1:0"});
  auto port = web_port(c.node(0));
  auto token = c.node(0).token();
  REQUIRE(token.size() == 64);
  auto wrong = std::string(64, '0');

  SECTION("the API: Authorization: Bearer TOKEN") {
    CHECK(web_get(port, "/api/status").status == 401);
    CHECK(web_get(port, "/api/status", bearer(wrong)).status == 401);
    CHECK(web_get(port, "/api/status", bearer(token.substr(0, 63))).status == 401);
    CHECK(web_get(port, "/api/status", {{"Authorization", "Basic " + token}}).status == 401);
    // The token in the query opens the page only, not the API.
    CHECK(web_get(port, "/api/status?token=" + token).status == 401);
    CHECK(web_get(port, "/api/peers").status == 401);
    auto r = web_get(port, "/api/status", bearer(token));
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("Cache-Control") == "no-store");
    CHECK(nlohmann::json::parse(r.body, nullptr, false).is_object());
    CHECK(web_get(port, "/api/peers", bearer(token)).status == 200);
  }
  SECTION("the page: ?token=TOKEN, then the session cookie") {
    auto denied = web_get(port, "/");
    CHECK(denied.status == 401);
    CHECK(denied.header("Set-Cookie").empty());
    CHECK_FALSE(contains(denied.body, "<script"));
    CHECK(web_get(port, "/?token=" + wrong).status == 401);
    CHECK(web_get(port, "/?token=").status == 401);
    CHECK(web_get(port, "/", {{"Cookie", "p2p_token=" + wrong}}).status == 401);

    auto page = web_get(port, "/?token=" + token);
    CHECK(page.status == 200);
    CHECK(contains(page.header("Content-Type"), "text/html"));
    CHECK(contains(page.body, "<title>p2p-daemon</title>"));
    auto cookie = page.header("Set-Cookie");
    CHECK(contains(cookie, "p2p_token=" + token + ";"));
    CHECK(contains(cookie, "HttpOnly"));
    CHECK(contains(cookie, "SameSite=Strict"));
    // Only the page's own script may run.
    CHECK(contains(page.header("Content-Security-Policy"), "script-src 'sha256-"));
    // Names are written as text: the page never hands data to innerHTML.
    CHECK_FALSE(contains(page.body, "innerHTML"));

    auto again = web_get(port, "/", {{"Cookie", "theme=dark; p2p_token=" + token}});
    CHECK(again.status == 200);
    CHECK(web_get(port, "/api/status", {{"Cookie", "p2p_token=" + token}}).status == 200);
  }
  SECTION("any other path: 401 without the token, 404 with it") {
    CHECK(web_get(port, "/favicon.ico").status == 401);
    CHECK(web_get(port, "/../../etc/passwd").status == 401);
    CHECK(web_get(port, "/favicon.ico", bearer(token)).status == 404);
  }
}

TEST_CASE("web: /api/status and /api/peers have the shape of p2p-cli --json status and peers",
          "[system][web]") {
  cluster c(2, {"--http", "127.0.0.1:0"});
  auto src = c.make_dir(c.root() + "/src");
  write_file(src + "/web.bin", random_bytes(300 * KiB, 13));
  c.share_id(0, src + "/web.bin");
  REQUIRE_FALSE(c.wait_for_file(1, "web.bin", 1).is_null());
  auto out = c.root() + "/out";
  auto dl = c.cli(1, {"download", "-w", "-f", "web.bin", "-o", out}, 60s);
  INFO(dl.out << dl.err);
  REQUIRE(dl.exit_code == 0);

  auto port = web_port(c.node(1));
  auto token = c.node(1).token();
  auto cli_status = c.cli_json(1, {"status"});
  auto api = web_get(port, "/api/status", bearer(token));
  REQUIRE(api.status == 200);
  auto web_status = nlohmann::json::parse(api.body, nullptr, false);
  REQUIRE_FALSE(web_status.is_discarded());
  INFO("p2p-cli --json status: " << cli_status.dump() << "\n/api/status: " << web_status.dump());
  REQUIRE(cli_status["downloads"].size() == 1);
  REQUIRE(cli_status["downloads"][0]["peers"].size() == 1);
  CHECK(shape(web_status) == shape(cli_status));
  // The same daemon state: the finished download and what it now seeds.
  CHECK(web_status["downloads"][0]["id"] == cli_status["downloads"][0]["id"]);
  CHECK(web_status["downloads"][0]["state"] == "complete");
  CHECK(web_status["shares"] == cli_status["shares"]);

  auto cli_peers = c.cli_json(1, {"peers"});
  auto peers = web_get(port, "/api/peers", bearer(token));
  REQUIRE(peers.status == 200);
  auto web_peers = nlohmann::json::parse(peers.body, nullptr, false);
  REQUIRE_FALSE(web_peers.is_discarded());
  REQUIRE(cli_peers["peers"].size() == 1);
  CHECK(shape(web_peers) == shape(cli_peers));
  CHECK(web_peers["peers"][0]["addr"] == cli_peers["peers"][0]["addr"]);
}

TEST_CASE("web: p2p-cli web prints the page's URL with the token, without --http it says how",
          "[system][web]") {
  cluster c(2, {}, nullptr, {{0, {"--http", "127.0.0.1:0"}}});
  auto r = c.cli(0, {"web"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto port = web_port(c.node(0));
  auto expected = "http://127.0.0.1:" + std::to_string(port) + "/?token=" + c.node(0).token();
  CHECK(r.out == expected + "\n");
  CHECK(web_get(port, "/?token=" + c.node(0).token()).status == 200);
  CHECK(c.cli_json(0, {"web"})["url"] == expected);

  auto none = c.cli(1, {"web"});
  CHECK(none.exit_code == 1);
  CHECK(contains(none.err, "serves no web page"));
  CHECK(contains(none.err, "--http"));
  CHECK_FALSE(std::filesystem::exists(c.node(1).state_dir + "/http.addr"));

  // A restart without --http takes the page (and its address file) away.
  REQUIRE(c.stop(0).has_value());
  c.node(0).args.resize(c.node(0).args.size() - 2);
  c.start(0);
  CHECK_FALSE(std::filesystem::exists(c.node(0).state_dir + "/http.addr"));
  CHECK(c.cli(0, {"web"}).exit_code == 1);
  CHECK(web_get(port, "/").status == 0);
}
