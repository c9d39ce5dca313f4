#include <catch2/catch.hpp>

#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.hpp"
#include "config/config.hpp"
#include "config/defaults.hpp"

using namespace p2p;
using nlohmann::json;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

const auto home_only = std::map<std::string, std::string>{{"HOME", "/home/u"}};

config resolve_ok(const json& file, const std::map<std::string, std::string>& env,
                  const json& flags) {
  auto r = resolve_config(file, fake_env(env), flags);
  INFO(r.error);
  REQUIRE(r.cfg);
  CHECK(r.error.empty());
  return *r.cfg;
}

std::string resolve_err(const json& file, const std::map<std::string, std::string>& env,
                        const json& flags) {
  auto r = resolve_config(file, fake_env(env), flags);
  CHECK_FALSE(r.cfg);
  CHECK_FALSE(r.error.empty());
  return r.error;
}

} // namespace

TEST_CASE("defaults", "[config]") {
  auto c = resolve_ok(nullptr, home_only, json::object());
  CHECK(c.state_dir == "/home/u/.local/state/p2p");
  CHECK(c.control_host == "127.0.0.1");
  CHECK(c.control_port == defaults::control_port);
  CHECK(c.peer_port == defaults::peer_port);
  CHECK(c.multicast_group == defaults::multicast_group);
  CHECK(c.multicast_port == defaults::multicast_port);
  CHECK(c.chunk_size == defaults::chunk_size);
  CHECK(c.log_level == "info");
  CHECK(c.multicast);
  CHECK(c.peers.empty());
  CHECK(c.advertise_addr.empty());
  CHECK(c.interface.empty());
  CHECK(c.announce_interval_ms == defaults::announce_interval_ms);
  CHECK(c.peer_expiry_ms == defaults::peer_expiry_ms);
  CHECK(c.scan_window_ms == defaults::scan_window_ms);
  CHECK(c.requests_in_flight == defaults::requests_in_flight);
  CHECK(c.stall_timeout_ms == defaults::stall_timeout_ms);
  CHECK(c.retry_max_ms == defaults::retry_max_ms);
  CHECK(c.upload_rate_limit == 0);
  CHECK(c.max_connections == defaults::max_connections);
  CHECK(c.max_connections_per_addr == defaults::max_connections_per_addr);
  CHECK(c.hello_timeout_ms == defaults::hello_timeout_ms);
}

TEST_CASE("state dir default chain", "[config]") {
  CHECK(resolve_ok(nullptr, {{"HOME", "/h"}, {"XDG_STATE_HOME", "/xdg"}}, nullptr).state_dir
        == "/xdg/p2p");
  CHECK(resolve_ok(nullptr,
                   {{"HOME", "/h"}, {"XDG_STATE_HOME", "/xdg"}, {"P2P_STATE_DIR", "/s"}},
                   nullptr)
          .state_dir
        == "/s");
  CHECK(resolve_ok(nullptr, {{"HOME", "/h"}, {"XDG_STATE_HOME", ""}}, nullptr).state_dir
        == "/h/.local/state/p2p");
  CHECK_THAT(resolve_err(nullptr, {}, nullptr), Catch::Contains("state_dir"));
  CHECK(resolve_ok(nullptr, {}, {{"state_dir", "/flag"}}).state_dir == "/flag");
}

TEST_CASE("precedence: default < file < env < flag", "[config]") {
  json file = {{"state_dir", "/file"},
               {"peer_port", 1001},
               {"chunk_size", 8192},
               {"log_level", "debug"},
               {"control_addr", "127.0.0.1:1111"},
               {"multicast", true}};
  std::map<std::string, std::string> env = {{"HOME", "/h"},
                                            {"P2P_STATE_DIR", "/env"},
                                            {"P2P_PEER_PORT", "2002"},
                                            {"P2P_LOG", "warn"},
                                            {"P2P_CONTROL_ADDR", "127.0.0.1:2222"}};
  json flags = {{"state_dir", "/flag"}, {"peer_port", 3003}};

  auto only_file = resolve_ok(file, home_only, nullptr);
  CHECK(only_file.state_dir == "/file");
  CHECK(only_file.peer_port == 1001);
  CHECK(only_file.chunk_size == 8192);
  CHECK(only_file.log_level == "debug");
  CHECK(only_file.control_port == 1111);

  auto file_env = resolve_ok(file, env, nullptr);
  CHECK(file_env.state_dir == "/env");
  CHECK(file_env.peer_port == 2002);
  CHECK(file_env.chunk_size == 8192); // no env: file stays
  CHECK(file_env.log_level == "warn");
  CHECK(file_env.control_port == 2222);

  auto all = resolve_ok(file, env, flags);
  CHECK(all.state_dir == "/flag");
  CHECK(all.peer_port == 3003);
  CHECK(all.log_level == "warn");
  CHECK(all.chunk_size == 8192);

  auto flags_win = resolve_ok(file, env, {{"log_level", "error"}, {"chunk_size", 65536}});
  CHECK(flags_win.log_level == "error");
  CHECK(flags_win.chunk_size == 65536);
}

TEST_CASE("every key from the file", "[config]") {
  json file = {{"state_dir", "/s"},
               {"control_addr", "[::1]:9000"},
               {"peer_port", 0},
               {"advertise_addr", "10.1.2.3"},
               {"interface", "eth0"},
               {"multicast_group", "239.1.2.3"},
               {"multicast_port", 9999},
               {"peers", {"10.0.0.1:7647", "host:1"}},
               {"chunk_size", 1 << 24},
               {"log_level", "trace"},
               {"multicast", false},
               {"announce_interval_ms", 100},
               {"peer_expiry_ms", 300},
               {"scan_window_ms", 200},
               {"requests_in_flight", 4},
               {"stall_timeout_ms", 1500},
               {"retry_max_ms", 2500},
               {"upload_rate_limit", 1000000},
               {"max_connections", 20},
               {"max_connections_per_addr", 3},
               {"hello_timeout_ms", 700}};
  auto c = resolve_ok(file, {}, nullptr);
  CHECK(c.control_host == "::1");
  CHECK(c.control_port == 9000);
  CHECK(c.peer_port == 0);
  CHECK(c.advertise_addr == "10.1.2.3");
  CHECK(c.interface == "eth0");
  CHECK(c.multicast_group == "239.1.2.3");
  CHECK(c.multicast_port == 9999);
  CHECK(c.peers == std::vector<std::string>{"10.0.0.1:7647", "host:1"});
  CHECK(c.chunk_size == 1u << 24);
  CHECK(c.log_level == "trace");
  CHECK_FALSE(c.multicast);
  CHECK(c.announce_interval_ms == 100);
  CHECK(c.peer_expiry_ms == 300);
  CHECK(c.scan_window_ms == 200);
  CHECK(c.requests_in_flight == 4);
  CHECK(c.stall_timeout_ms == 1500);
  CHECK(c.retry_max_ms == 2500);
  CHECK(c.upload_rate_limit == 1000000);
  CHECK(c.max_connections == 20);
  CHECK(c.max_connections_per_addr == 3);
  CHECK(c.hello_timeout_ms == 700);
}

TEST_CASE("P2P_PEERS and P2P_NO_MULTICAST", "[config]") {
  auto c = resolve_ok({{"peers", {"a:1"}}},
                      {{"HOME", "/h"},
                       {"P2P_PEERS", "10.0.0.1:7647, 10.0.0.2:7647,,[::1]:5"},
                       {"P2P_NO_MULTICAST", "1"}},
                      nullptr);
  CHECK(c.peers == std::vector<std::string>{"10.0.0.1:7647", "10.0.0.2:7647", "[::1]:5"});
  CHECK_FALSE(c.multicast);
  CHECK_FALSE(resolve_ok(nullptr, {{"HOME", "/h"}, {"P2P_NO_MULTICAST", "true"}}, nullptr)
                .multicast);
  CHECK(resolve_ok({{"multicast", false}}, {{"HOME", "/h"}, {"P2P_NO_MULTICAST", "0"}},
                   nullptr)
          .multicast);
  // The flag wins over the env.
  CHECK(resolve_ok(nullptr, {{"HOME", "/h"}, {"P2P_NO_MULTICAST", "1"}},
                   {{"multicast", true}})
          .multicast);
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_NO_MULTICAST", "maybe"}}, nullptr),
             Catch::Contains("P2P_NO_MULTICAST"));
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_PEERS", "a:1,nonsense"}}, nullptr),
             Catch::Contains("peers: 'nonsense'"));
  // Flags may give peers as an array or as one comma list.
  CHECK(resolve_ok(nullptr, home_only, {{"peers", {"x:1", "y:2"}}}).peers.size() == 2);
  CHECK(resolve_ok(nullptr, home_only, {{"peers", "x:1,y:2"}}).peers.size() == 2);
  CHECK_FALSE(resolve_ok(nullptr, home_only, {{"no_multicast", true}}).multicast);
}

TEST_CASE("errors name the key", "[config]") {
  CHECK(resolve_err({{"chunk_size", 5000}}, home_only, nullptr)
        == "chunk_size: 5000 is not a power of two between 4096 and 16777216 (in the "
           "config file)");
  CHECK(resolve_err(nullptr, home_only, {{"chunk_size", 5000}})
        == "chunk_size: 5000 is not a power of two between 4096 and 16777216");
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_CHUNK_SIZE", "5000"}}, nullptr),
             Catch::StartsWith("chunk_size: 5000 is not a power of two")
               && Catch::Contains("P2P_CHUNK_SIZE"));
  CHECK_THAT(resolve_err(nullptr, home_only, {{"chunk_size", 2048}}),
             Catch::StartsWith("chunk_size:"));
  CHECK_THAT(resolve_err(nullptr, home_only, {{"chunk_size", uint64_t{1} << 32}}),
             Catch::StartsWith("chunk_size:"));
  CHECK_THAT(resolve_err({{"chunk_size", "65536"}}, home_only, nullptr),
             Catch::StartsWith("chunk_size: expected an integer"));

  CHECK_THAT(resolve_err({{"frobnicate", 1}}, home_only, nullptr),
             Catch::Contains("unknown key 'frobnicate'"));
  CHECK_THAT(resolve_err(nullptr, home_only, {{"frobnicate", 1}}),
             Catch::Contains("unknown key 'frobnicate'"));

  CHECK_THAT(resolve_err({{"peer_port", 70000}}, home_only, nullptr),
             Catch::StartsWith("peer_port: 70000 is out of range 0..65535"));
  CHECK_THAT(resolve_err({{"peer_port", -1}}, home_only, nullptr),
             Catch::StartsWith("peer_port:"));
  CHECK_THAT(resolve_err({{"peer_port", 80.5}}, home_only, nullptr),
             Catch::StartsWith("peer_port: expected an integer"));
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_PEER_PORT", "http"}}, nullptr),
             Catch::StartsWith("peer_port: 'http'"));
  CHECK_THAT(resolve_err({{"multicast_port", 0}}, home_only, nullptr),
             Catch::StartsWith("multicast_port:"));
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_RETRY_MAX_MS", "0"}}, nullptr),
             Catch::StartsWith("retry_max_ms: 0 is out of range")
               && Catch::Contains("P2P_RETRY_MAX_MS"));
  CHECK(resolve_ok(nullptr, {{"HOME", "/h"}, {"P2P_RETRY_MAX_MS", "700"}}, nullptr)
          .retry_max_ms
        == 700);
  CHECK_THAT(resolve_err({{"max_connections", 0}}, home_only, nullptr),
             Catch::StartsWith("max_connections: 0 is out of range"));
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_MAX_CONNECTIONS_PER_ADDR", "0"}},
                         nullptr),
             Catch::StartsWith("max_connections_per_addr: 0 is out of range"));
  auto limits = resolve_ok(nullptr,
                           {{"HOME", "/h"},
                            {"P2P_MAX_CONNECTIONS", "9"},
                            {"P2P_MAX_CONNECTIONS_PER_ADDR", "2"},
                            {"P2P_HELLO_TIMEOUT_MS", "250"}},
                           nullptr);
  CHECK(limits.max_connections == 9);
  CHECK(limits.max_connections_per_addr == 2);
  CHECK(limits.hello_timeout_ms == 250);
  CHECK_THAT(resolve_err({{"control_addr", "localhost"}}, home_only, nullptr),
             Catch::StartsWith("control_addr: 'localhost'"));
  CHECK_THAT(resolve_err({{"control_addr", "127.0.0.1:99999"}}, home_only, nullptr),
             Catch::StartsWith("control_addr:"));

  CHECK_THAT(resolve_err({{"log_level", "loud"}}, home_only, nullptr),
             Catch::StartsWith("log_level: 'loud' is not one of"));
  CHECK_THAT(resolve_err(nullptr, {{"HOME", "/h"}, {"P2P_LOG", "verbose"}}, nullptr),
             Catch::StartsWith("log_level: 'verbose'") && Catch::Contains("P2P_LOG"));

  CHECK_THAT(resolve_err({{"multicast_group", "10.0.0.1"}}, home_only, nullptr),
             Catch::StartsWith("multicast_group:"));
  CHECK_THAT(resolve_err({{"advertise_addr", "not an ip"}}, home_only, nullptr),
             Catch::StartsWith("advertise_addr:"));
  CHECK_THAT(resolve_err({{"peers", "a:1"}}, home_only, nullptr),
             Catch::StartsWith("peers:"));
  CHECK_THAT(resolve_err({{"peers", {"a:0"}}}, home_only, nullptr),
             Catch::StartsWith("peers:"));
  CHECK_THAT(resolve_err({{"multicast", "no"}}, home_only, nullptr),
             Catch::StartsWith("multicast:"));
  CHECK_THAT(resolve_err({{"state_dir", ""}}, home_only, nullptr),
             Catch::StartsWith("state_dir:"));
  CHECK_THAT(resolve_err({{"requests_in_flight", 0}}, home_only, nullptr),
             Catch::StartsWith("requests_in_flight:"));
  CHECK_THAT(resolve_err(json::array(), home_only, nullptr), Catch::Contains("object"));
}

TEST_CASE("flags may carry numbers as strings", "[config]") {
  auto c = resolve_ok(nullptr, home_only,
                      {{"peer_port", "4000"}, {"chunk_size", "4096"}, {"multicast_port", "5"}});
  CHECK(c.peer_port == 4000);
  CHECK(c.chunk_size == 4096);
  CHECK(c.multicast_port == 5);
}

TEST_CASE("is_valid_log_level", "[config]") {
  for (auto l : {"trace", "debug", "info", "warn", "error"})
    CHECK(is_valid_log_level(l));
  for (auto l : {"", "INFO", "warning", "fatal"})
    CHECK_FALSE(is_valid_log_level(l));
}

TEST_CASE("load_config reads a JSON file", "[config]") {
  test::temp_dir dir;
  auto path = dir.write("p2p.json", R"({
    // comments are allowed
    "peer_port": 1234, "log_level": "debug"
  })");
  auto r = load_config(path, fake_env(home_only), json::object());
  INFO(r.error);
  REQUIRE(r.cfg);
  CHECK(r.cfg->peer_port == 1234);
  CHECK(r.cfg->log_level == "debug");

  auto none = load_config(std::nullopt, fake_env(home_only), nullptr);
  REQUIRE(none.cfg);
  CHECK(none.cfg->peer_port == defaults::peer_port);

  auto via_flag = load_config(std::nullopt, fake_env(home_only), {{"config", path}});
  REQUIRE(via_flag.cfg);
  CHECK(via_flag.cfg->peer_port == 1234);

  auto missing = load_config(dir.file("nope.json"), fake_env(home_only), nullptr);
  CHECK_FALSE(missing.cfg);
  CHECK_THAT(missing.error, Catch::Contains("nope.json") && Catch::Contains("cannot read"));

  auto bad = load_config(dir.write("bad.json", "{ nope"), fake_env(home_only), nullptr);
  CHECK_FALSE(bad.cfg);
  CHECK_THAT(bad.error, Catch::Contains("bad.json") && Catch::Contains("JSON"));

  auto arr = load_config(dir.write("arr.json", "[1]"), fake_env(home_only), nullptr);
  CHECK_FALSE(arr.cfg);

  auto unknown = load_config(dir.write("u.json", R"({"colour":"red"})"),
                             fake_env(home_only), nullptr);
  CHECK_FALSE(unknown.cfg);
  CHECK_THAT(unknown.error, Catch::Contains("colour"));
}

TEST_CASE("process_env reads the real environment", "[config]") {
  ::setenv("P2P_UNIT_TEST_VAR", "hello", 1);
  auto env = process_env();
  CHECK(env("P2P_UNIT_TEST_VAR") == std::string("hello"));
  ::unsetenv("P2P_UNIT_TEST_VAR");
  CHECK_FALSE(env("P2P_UNIT_TEST_VAR"));
}

TEST_CASE("http_addr: off by default, a bare port is loopback, errors name the key",
          "[config]") {
  auto d = resolve_ok(nullptr, home_only, nullptr);
  CHECK(d.http_host.empty());
  auto flag = resolve_ok(nullptr, home_only, {{"http_addr", "7648"}});
  CHECK(flag.http_host == "127.0.0.1");
  CHECK(flag.http_port == 7648);
  auto file = resolve_ok({{"http_addr", "0.0.0.0:8080"}}, home_only, nullptr);
  CHECK(file.http_host == "0.0.0.0");
  CHECK(file.http_port == 8080);
  auto v6 = resolve_ok(nullptr, {{"HOME", "/h"}, {"P2P_HTTP_ADDR", "[::1]:0"}}, nullptr);
  CHECK(v6.http_host == "::1");
  CHECK(v6.http_port == 0);
  // A flag wins over the file, and "" turns the page off again.
  auto off = resolve_ok({{"http_addr", "127.0.0.1:8080"}}, home_only, {{"http_addr", ""}});
  CHECK(off.http_host.empty());
  for (auto bad : {"localhost", "70000", "127.0.0.1:70000", ":8080", "1.2.3.4:x"})
    CHECK_THAT(resolve_err(nullptr, home_only, {{"http_addr", bad}}),
               Catch::StartsWith("http_addr: '"));
  CHECK_THAT(resolve_err({{"http_addr", 8080}}, home_only, nullptr),
             Catch::StartsWith("http_addr: expected a string"));
}

TEST_CASE("network_key and encrypt come from file, env and flag, and encrypt needs a key", "[config]") {
  auto cfg = resolve_ok(json(nullptr), home_only, json::object());
  CHECK(cfg.network_key_file.empty());
  CHECK_FALSE(cfg.encrypt);
  CHECK_FALSE(cfg.network);
  cfg = resolve_ok(json{{"network_key", "/etc/p2p/key"}, {"encrypt", true}}, home_only,
                   json::object());
  CHECK(cfg.network_key_file == "/etc/p2p/key");
  CHECK(cfg.encrypt);
  auto env = home_only;
  env["P2P_NETWORK_KEY"] = "/env.key";
  env["P2P_ENCRYPT"] = "1";
  cfg = resolve_ok(json(nullptr), env, json::object());
  CHECK(cfg.network_key_file == "/env.key");
  CHECK(cfg.encrypt);
  cfg = resolve_ok(json(nullptr), env, json{{"network_key", "/flag.key"}});
  CHECK(cfg.network_key_file == "/flag.key");
  CHECK(resolve_err(json(nullptr), home_only, json{{"encrypt", true}})
          .find("encrypt: needs a network key") != std::string::npos);
  CHECK(resolve_err(json{{"network_key", 5}}, home_only, json::object())
          .find("network_key") != std::string::npos);
}
