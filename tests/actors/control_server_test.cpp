// The control server of an in-process daemon answering a test client that
// speaks JSON lines over a plain socket.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <chrono>
#include <map>

#include "actors/system.hpp"
#include "protocol/control.hpp"
#include "tests/support/actor_env.hpp"
#include "tests/support/socket_client.hpp"

using namespace p2p;
using namespace p2p::test;
using json = nlohmann::json;

namespace {

// One client connection; reads reply lines with a timeout (10 s).
struct line_client : socket_client {
  std::string buf;

  explicit line_client(uint16_t port) : socket_client(port, std::chrono::milliseconds(2000)) {}

  json next() {
    for (;;) {
      auto nl = buf.find('\n');
      if (nl != std::string::npos) {
        auto line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return json::parse(line);
      }
      char tmp[4096];
      auto n = read_some(tmp, sizeof(tmp));
      REQUIRE(n >= 0); // else no reply within 10 s
      REQUIRE(n > 0);  // else the server closed the connection
      buf.append(tmp, static_cast<size_t>(n));
    }
  }
};

} // namespace

TEST_CASE("control server answers requests, rejects bad ones, survives garbage",
          "[control_server]") {
  actor_env env;
  temp_dir dir;
  auto cfg = test_config(dir.path() + "/state");
  auto h = start_daemon(*env.sys, cfg, "sesame");
  REQUIRE(h);
  line_client c{h->control_port};

  write_file(dir.path() + "/a.txt", "hello");
  c.send(control::make_request_line(1, "sesame", "share", {{"path", dir.path() + "/a.txt"}}));
  auto r = c.next();
  CHECK(r["id"] == 1);
  REQUIRE(r["ok"] == true);
  CHECK(r["result"]["shares"][0]["name"] == "a.txt");
  CHECK(r["result"]["shares"][0]["size"] == 5);

  c.send(control::make_request_line(2, "wrong", "status", json::object()));
  r = c.next();
  CHECK(r["id"] == 2);
  CHECK(r["ok"] == false);
  CHECK(r["error"]["code"] == "unauthorized");

  c.send("{not json\n");
  CHECK(c.next()["error"]["code"] == "bad_json");
  c.send(std::string(control::max_line + 10, 'x') + "\n");
  CHECK(c.next()["error"]["code"] == "line_too_long");
  c.send(R"({"id":7,"token":"sesame","cmd":"fly"})" "\n");
  r = c.next();
  CHECK(r["id"] == 7);
  CHECK(r["error"]["code"] == "unknown_command");

  // Two requests in one write get two replies, matched by id (a reply that
  // needs fewer actors may overtake the other).
  c.send(control::make_request_line(3, "sesame", "status", json::object())
         + control::make_request_line(4, "sesame", "ls", json::object()));
  std::map<int, json> replies;
  for (int i = 0; i < 2; ++i) {
    r = c.next();
    replies[r["id"].get<int>()] = r;
  }
  REQUIRE(replies.count(3) == 1);
  REQUIRE(replies.count(4) == 1);
  CHECK(replies[3]["result"]["shares"].size() == 1);
  CHECK(replies[3]["result"]["uploads"]["bytes_total"] == 0);
  CHECK(replies[3]["result"]["downloads"].is_array());
  CHECK(replies[4]["result"]["files"].is_array());

  c.send(control::make_request_line(5, "sesame", "download",
                                    {{"name", "nope.bin"}, {"out_dir", dir.path()}}));
  r = c.next();
  CHECK(r["ok"] == false);
  CHECK(r["error"]["code"] == "not_found");
  CHECK(r["error"]["message"].get<std::string>().find("nope.bin") != std::string::npos);
  // Null arguments are absent arguments, not a crash of the control server.
  c.send(R"({"id":8,"token":"sesame","cmd":"download","args":{"name":null,"id":"ab",)"
         R"("out_dir":"/tmp","overwrite":null}})" "\n");
  r = c.next();
  CHECK(r["id"] == 8);
  CHECK(r["error"]["code"] == "not_found");
  c.send(control::make_request_line(9, "sesame", "status", json::object()));
  CHECK(c.next()["ok"] == true);
  stop_daemon(*env.sys, *h);
}
