// The web page's access rules (see web_auth.hpp).
#include "http/web_auth.hpp"

#include <cctype>

#include "protocol/control.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

std::string trim_spaces(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return "";
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool matches(const std::string& given, const std::string& token) {
  return !given.empty() && !token.empty() && control::token_matches(given, token);
}

} // namespace

std::string bearer_token(const std::string& authorization) {
  auto v = trim_spaces(authorization);
  auto space = v.find(' ');
  if (space == std::string::npos || !iequals(v.substr(0, space), "Bearer"))
    return "";
  return trim_spaces(v.substr(space + 1));
}

std::string cookie_value(const std::string& cookie_header, const std::string& name) {
  size_t start = 0;
  while (start <= cookie_header.size()) {
    auto end = cookie_header.find(';', start);
    if (end == std::string::npos)
      end = cookie_header.size();
    auto pair = trim_spaces(cookie_header.substr(start, end - start));
    auto eq = pair.find('=');
    if (eq != std::string::npos && trim_spaces(pair.substr(0, eq)) == name)
      return trim_spaces(pair.substr(eq + 1));
    start = end + 1;
  }
  return "";
}

web_auth check_web_auth(const web_credentials& c, const std::string& token) {
  if (matches(bearer_token(c.authorization), token))
    return web_auth::by_header;
  if (matches(cookie_value(c.cookie_header, web_cookie_name), token))
    return web_auth::by_cookie;
  if (matches(c.query_token, token))
    return web_auth::by_query;
  return web_auth::denied;
}

std::string web_session_cookie(const std::string& token) {
  return std::string(web_cookie_name) + "=" + token + "; HttpOnly; SameSite=Strict; Path=/";
}

std::string web_url(const std::string& host, uint16_t port, const std::string& token) {
  std::string h = host;
  if (h.empty() || h == "0.0.0.0")
    h = "127.0.0.1";
  else if (h == "::" || h == "[::]")
    h = "::1";
  return "http://" + format_host_port(h, port) + "/?token=" + token;
}

} // namespace p2p
