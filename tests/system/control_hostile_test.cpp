// The control channel under hostile input: each bad line gets an error reply
// and the daemon keeps serving.
#include <cerrno>
#include <cstring>
#include <set>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/daemon.hpp"
#include "util/net.hpp"

using namespace p2p::test;

namespace {

// A raw connection to a control port.
class raw_connection {
public:
  explicit raw_connection(uint16_t port) {
    std::string err;
    fd_ = p2p::connect_with_timeout("127.0.0.1", port, 5000, err);
    INFO(err);
    REQUIRE(fd_ >= 0);
  }
  ~raw_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  // Sends everything it can; false when the daemon stopped reading (closed).
  bool send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // The next line, or "" after `timeout` or on EOF.
  std::string read_line(millis timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<millis>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return {};
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char tmp[4096];
      auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0)
        return {};
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  // Sends one line and parses the reply line (null JSON when none came).
  nlohmann::json request(const std::string& line) {
    send(line + "\n");
    auto reply = read_line();
    return nlohmann::json::parse(reply, nullptr, false);
  }

private:
  int fd_ = -1;
  std::string buf_;
};

// Checks `reply` is {"ok":false,"error":{"code":<code>,"message":<non-empty>}}.
void check_error(const nlohmann::json& reply, const std::string& code) {
  INFO("reply: " << reply.dump());
  REQUIRE(reply.is_object());
  CHECK(reply.value("ok", true) == false);
  REQUIRE(reply.contains("error"));
  CHECK(reply["error"].value("code", "") == code);
  CHECK_FALSE(reply["error"].value("message", "").empty());
}

} // namespace

TEST_CASE("the control channel answers hostile input with error replies",
          "[system][control]") {
  cluster c(1);
  auto port = c.node(0).control_port;
  auto token = c.node(0).token();
  REQUIRE_FALSE(token.empty());
  auto req = [&](nlohmann::json id, const std::string& cmd, nlohmann::json args) {
    return nlohmann::json{{"id", id}, {"token", token}, {"cmd", cmd}, {"args", args}}.dump();
  };

  SECTION("bad JSON") {
    raw_connection conn(port);
    check_error(conn.request("{\"id\":1,\"cmd\":"), "bad_json");
  }
  SECTION("not an object") {
    raw_connection conn(port);
    auto reply = conn.request("[1,2,3]");
    INFO("reply: " << reply.dump());
    REQUIRE(reply.is_object());
    CHECK(reply.value("ok", true) == false);
  }
  SECTION("unknown command; the id is echoed") {
    raw_connection conn(port);
    auto reply = conn.request(req(7, "frobnicate", nlohmann::json::object()));
    check_error(reply, "unknown_command");
    CHECK(reply.value("id", 0) == 7);
  }
  SECTION("missing args") {
    raw_connection conn(port);
    check_error(conn.request(req(1, "share", nlohmann::json::object())), "bad_request");
    raw_connection conn2(port);
    check_error(conn2.request(req(2, "download", {{"out_dir", c.root()}})), "bad_request");
    raw_connection conn3(port);
    check_error(conn3.request(req(3, "unshare", {{"target", 42}})), "bad_request");
  }
  SECTION("no token or a wrong one") {
    raw_connection conn(port);
    check_error(conn.request(R"({"id":1,"cmd":"status","args":{}})"), "unauthorized");
    raw_connection conn2(port);
    check_error(conn2.request(R"({"id":1,"token":"nope","cmd":"status","args":{}})"),
                "unauthorized");
  }
  SECTION("a line longer than 64 KiB") {
    raw_connection conn(port);
    std::string huge = "{\"id\":1,\"token\":\"" + token + "\",\"cmd\":\"status\",\"pad\":\""
                       + std::string(70 * 1024, 'a') + "\"}";
    conn.send(huge + "\n");
    check_error(nlohmann::json::parse(conn.read_line(), nullptr, false), "line_too_long");
  }
  SECTION("several requests on one connection") {
    raw_connection conn(port);
    conn.send(req(1, "status", nlohmann::json::object()) + "\n"
              + req(2, "ls", nlohmann::json::object()) + "\n");
    auto first = nlohmann::json::parse(conn.read_line(), nullptr, false);
    auto second = nlohmann::json::parse(conn.read_line(), nullptr, false);
    INFO("replies: " << first.dump() << " / " << second.dump());
    REQUIRE(first.is_object());
    REQUIRE(second.is_object());
    CHECK(first.value("ok", false));
    CHECK(second.value("ok", false));
    std::set<int> ids{first.value("id", 0), second.value("id", 0)};
    CHECK(ids == std::set<int>{1, 2});
  }

  // Whatever came before, the daemon still runs and answers.
  CHECK(c.node(0).proc->running());
  raw_connection conn(port);
  auto reply = conn.request(req(99, "status", nlohmann::json::object()));
  INFO("status reply: " << reply.dump());
  REQUIRE(reply.is_object());
  CHECK(reply.value("ok", false));
  CHECK(reply.value("id", 0) == 99);
  CHECK(c.cli(0, {"status"}).exit_code == 0);
}
