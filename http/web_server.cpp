// The web page's HTTP server (see web_server.hpp).
#include "http/web_server.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <caf/all.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "actors/json.hpp"
#include "http/web_auth.hpp"
#include "http/web_page.hpp"
#include "storage/manifest.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

// A page that waits longer is no use; the actors answer in milliseconds.
constexpr auto ask_timeout = std::chrono::seconds(5);
constexpr int threads = 4;

// "'sha256-BASE64'" of the page's inline script: the Content-Security-Policy
// allows that script and nothing else (CSP 3, "hash-source").
std::string script_hash_source() {
  std::string page = web_page_html;
  auto open = page.find("<script>");
  auto close = page.find("</script>");
  if (open == std::string::npos || close == std::string::npos)
    return "'none'";
  open += std::strlen("<script>");
  auto d = sha256(page.data() + open, close - open);
  unsigned char b64[4 * ((sizeof(d) + 2) / 3) + 1];
  EVP_EncodeBlock(b64, d.data(), static_cast<int>(d.size()));
  return "'sha256-" + std::string(reinterpret_cast<char*>(b64)) + "'";
}

void common_headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

void json_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(
                    -1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

} // namespace

struct web_server::impl {
  httplib::Server svr;
  std::string where; // HOST:PORT for the log
  uint16_t port = 0;
  std::thread listener;
};

web_server::web_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

web_server::~web_server() {
  stop();
}

std::unique_ptr<web_server> web_server::bind(const std::string& host, uint16_t port,
                                             std::string& err) {
  auto p = std::make_unique<impl>();
  p->svr.new_task_queue = [] { return new httplib::ThreadPool(threads); };
  p->svr.set_keep_alive_timeout(1);
  p->svr.set_read_timeout(5, 0);
  p->svr.set_write_timeout(5, 0);
  auto where = format_host_port(host, port);
  errno = 0;
  int bound = 0;
  if (port == 0) {
    bound = p->svr.bind_to_any_port(host);
  } else {
    bound = p->svr.bind_to_port(host, port) ? port : -1;
  }
  if (bound <= 0) {
    int e = errno;
    err = "cannot listen on web address " + where + ": "
          + (e != 0 ? std::string(std::strerror(e)) : "not a local address or name");
    return nullptr;
  }
  p->port = static_cast<uint16_t>(bound);
  p->where = format_host_port(host, p->port);
  return std::unique_ptr<web_server>(new web_server(std::move(p)));
}

uint16_t web_server::port() const {
  return impl_->port;
}

void web_server::start(caf::actor_system& sys, control_server_actor control,
                       catalog_actor catalog, std::string token) {
  auto& svr = impl_->svr;
  auto csp = "default-src 'none'; script-src " + script_hash_source()
             + "; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  // Every request: the token first (401 without it), whatever the path.
  svr.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    common_headers(res);
    web_credentials c;
    c.authorization = req.get_header_value("Authorization");
    c.cookie_header = req.get_header_value("Cookie");
    if (req.path == "/")
      c.query_token = req.get_param_value("token");
    auto how = check_web_auth(c, token);
    if (how == web_auth::denied) {
      spdlog::debug("web: 401 {} {}", req.method, req.path);
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer realm=\"p2p-daemon\"");
      res.set_content("401 unauthorized: this page needs the control token; "
                      "`p2p-cli web` prints its URL\n",
                      "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (how == web_auth::by_query)
      res.set_header("Set-Cookie", web_session_cookie(token));
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.Get("/", [csp](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", csp);
    res.set_content(web_page_html, "text/html; charset=utf-8");
  });
  svr.Get("/api/status", [&sys, control](const httplib::Request&, httplib::Response& res) {
    caf::scoped_actor self{sys};
    self->request(control, ask_timeout, status_atom::value)
      .receive([&](std::string& doc) { res.set_content(doc, "application/json"); },
               [&](caf::error& e) {
                 auto [code, msg] = describe(e);
                 json_error(res, 503, code, msg);
               });
  });
  svr.Get("/api/peers", [&sys, catalog](const httplib::Request&, httplib::Response& res) {
    caf::scoped_actor self{sys};
    self->request(catalog, ask_timeout, peers_atom::value)
      .receive(
        [&](std::vector<peer_info>& peers) {
          res.set_content(nlohmann::json{{"peers", to_json(peers)}}.dump(
                            -1, ' ', false, nlohmann::json::error_handler_t::replace),
                          "application/json");
        },
        [&](caf::error& e) {
          auto [code, msg] = describe(e);
          json_error(res, 503, code, msg);
        });
  });
  impl_->listener = std::thread([this] { impl_->svr.listen_after_bind(); });
  spdlog::info("web page on http://{}/ (p2p-cli web prints its URL)", impl_->where);
}

void web_server::stop() {
  if (!impl_ || !impl_->listener.joinable())
    return;
  // httplib's stop() does nothing before listen_after_bind has begun.
  for (int i = 0; i < 200 && !impl_->svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->svr.stop();
  impl_->listener.join();
}

} // namespace p2p
