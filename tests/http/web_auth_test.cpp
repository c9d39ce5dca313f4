// The web page's access rules (http/web_auth.hpp), hostile inputs included.
#include <catch2/catch.hpp>

#include "http/web_auth.hpp"

using namespace p2p;

namespace {
const std::string token(64, 'a');
}

TEST_CASE("web auth: the Bearer token of an Authorization header") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer   abc  ") == "abc");
  CHECK(bearer_token("BEARER abc") == "abc");
  CHECK(bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(bearer_token("Bearer ").empty());
  CHECK(bearer_token("Bearerabc").empty());
  CHECK(bearer_token("").empty());
}

TEST_CASE("web auth: a cookie's value in a Cookie header") {
  CHECK(cookie_value("p2p_token=abc", "p2p_token") == "abc");
  CHECK(cookie_value("a=1; p2p_token=abc; b=2", "p2p_token") == "abc");
  CHECK(cookie_value("a=1;p2p_token=abc", "p2p_token") == "abc");
  CHECK(cookie_value("xp2p_token=abc; p2p_tokenx=def", "p2p_token").empty());
  CHECK(cookie_value("p2p_token", "p2p_token").empty());
  CHECK(cookie_value(";;;=;", "p2p_token").empty());
  CHECK(cookie_value("", "p2p_token").empty());
}

TEST_CASE("web auth: the right token by header, cookie or query, anything else is denied") {
  web_credentials c;
  CHECK(check_web_auth(c, token) == web_auth::denied);
  c.authorization = "Bearer " + token;
  CHECK(check_web_auth(c, token) == web_auth::by_header);
  c = {};
  c.cookie_header = "other=1; p2p_token=" + token;
  CHECK(check_web_auth(c, token) == web_auth::by_cookie);
  c = {};
  c.query_token = token;
  CHECK(check_web_auth(c, token) == web_auth::by_query);

  SECTION("wrong, truncated, longer and empty tokens") {
    for (auto bad : {std::string(64, 'b'), token.substr(0, 63), token + "a", std::string{}}) {
      web_credentials w;
      w.authorization = "Bearer " + bad;
      w.cookie_header = "p2p_token=" + bad;
      w.query_token = bad;
      CHECK(check_web_auth(w, token) == web_auth::denied);
    }
  }
  SECTION("an empty control token admits nobody") {
    web_credentials w;
    w.authorization = "Bearer ";
    w.cookie_header = "p2p_token=";
    CHECK(check_web_auth(w, "") == web_auth::denied);
  }
}

TEST_CASE("web auth: the session cookie is HttpOnly and SameSite=Strict") {
  auto v = web_session_cookie("abc");
  CHECK(v.rfind("p2p_token=abc;", 0) == 0);
  CHECK(v.find("; HttpOnly") != std::string::npos);
  CHECK(v.find("; SameSite=Strict") != std::string::npos);
}

TEST_CASE("web auth: the page URL names loopback for a wildcard address") {
  CHECK(web_url("127.0.0.1", 7648, "t") == "http://127.0.0.1:7648/?token=t");
  CHECK(web_url("0.0.0.0", 80, "t") == "http://127.0.0.1:80/?token=t");
  CHECK(web_url("::", 80, "t") == "http://[::1]:80/?token=t");
  CHECK(web_url("192.168.1.5", 8080, "t") == "http://192.168.1.5:8080/?token=t");
}
