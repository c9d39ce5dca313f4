#pragma once
// The read-only web page of p2p-daemon --http (README "Web page"): GET /
// (the page), /api/status (the result of `p2p-cli --json status`) and
// /api/peers (of `p2p-cli --json peers`). cpp-httplib serves it on its own
// threads, outside CAF's I/O multiplexer; each request asks the actors with
// a scoped_actor and a timeout. Every request needs the control token
// (http/web_auth.hpp), else 401.
#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/actors.hpp"

namespace p2p {

class web_server {
public:
  // Binds host:port (port 0: a free one) and listens. On failure returns
  // null and sets `err` to "cannot listen on web address HOST:PORT: REASON".
  // Binding before the actors start lets the daemon fail before it announces.
  static std::unique_ptr<web_server> bind(const std::string& host, uint16_t port,
                                          std::string& err);

  ~web_server(); // stop()
  web_server(const web_server&) = delete;
  web_server& operator=(const web_server&) = delete;

  // The bound port.
  uint16_t port() const;

  // Starts serving (4 threads of cpp-httplib). `control` answers /api/status,
  // `catalog` /api/peers; `token` is the control cookie. Call once.
  void start(caf::actor_system& sys, control_server_actor control, catalog_actor catalog,
             std::string token);

  // Stops accepting and joins the threads; a request under way finishes
  // (at most the 5 s ask timeout), an idle keep-alive connection ends
  // within 1 s. Idempotent.
  void stop();

private:
  struct impl;
  explicit web_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace p2p
