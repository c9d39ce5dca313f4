#pragma once
// Who may see the web page (p2p-daemon --http): the pure rules, no sockets.
// Every request must carry the control cookie (<state-dir>/control.cookie):
// as "Authorization: Bearer TOKEN", as the session cookie the page sets, or,
// for the page itself, as "?token=TOKEN" (the URL `p2p-cli web` prints).
#include <cstdint>
#include <string>

namespace p2p {

// The name of the session cookie holding the control token.
inline constexpr const char* web_cookie_name = "p2p_token";

// How a request proved it knows the control token.
enum class web_auth {
  denied,    // no token, or a wrong one: answer 401
  by_header, // Authorization: Bearer TOKEN
  by_cookie, // Cookie: p2p_token=TOKEN
  by_query,  // ?token=TOKEN (the page only): the reply sets the session cookie
};

// What a request brings; empty strings when absent.
struct web_credentials {
  std::string authorization; // the Authorization header's value
  std::string cookie_header; // the Cookie header's value
  std::string query_token;   // ?token= (the server passes it for the page only)
};

// The token of "Bearer TOKEN" (scheme case-insensitive, RFC 7235 2.1); ""
// when `authorization` is another scheme or has no token.
std::string bearer_token(const std::string& authorization);

// The value of cookie `name` in a Cookie header ("a=1; b=2", RFC 6265 4.2);
// "" when absent.
std::string cookie_value(const std::string& cookie_header, const std::string& name);

// Checks `c` against the control token `token` (constant-time compares); the
// first of header, cookie, query that matches wins. An empty `token` denies all.
web_auth check_web_auth(const web_credentials& c, const std::string& token);

// The Set-Cookie value after a ?token= login: the token, HttpOnly (no script
// reads it), SameSite=Strict (no other site's page sends it), Path=/.
std::string web_session_cookie(const std::string& token);

// The page's URL for `p2p-cli web`: http://HOST:PORT/?token=TOKEN, a wildcard
// host (0.0.0.0, ::, empty) given as loopback, IPv6 in brackets.
std::string web_url(const std::string& host, uint16_t port, const std::string& token);

} // namespace p2p
