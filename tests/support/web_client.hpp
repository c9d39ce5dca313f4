#pragma once
// The web page of a test daemon (p2p-daemon --http): its address from
// <state-dir>/http.addr and GET requests with cpp-httplib's client.
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/daemon.hpp"
#include "util/net.hpp"

namespace p2p::test {

// The web page's port of daemon `n` (from http.addr); REQUIREs one.
inline uint16_t web_port(const daemon_node& n) {
  auto text = slurp(n.state_dir + "/http.addr");
  auto hp = parse_host_port(text.substr(0, text.find('\n')));
  INFO("http.addr of daemon " << n.index << ": '" << text << "'");
  REQUIRE(hp);
  return hp->port;
}

struct web_reply {
  int status = 0; // 0: no answer
  std::string body;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// GET `path` on 127.0.0.1:`port` with `headers`; 10 s timeouts.
inline web_reply web_get(uint16_t port, const std::string& path,
                         const httplib::Headers& headers = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(10, 0);
  cli.set_read_timeout(10, 0);
  web_reply r;
  if (auto res = cli.Get(path, headers)) {
    r.status = res->status;
    r.body = res->body;
    r.headers = res->headers;
  }
  return r;
}

inline httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

} // namespace p2p::test
