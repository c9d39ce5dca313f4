#include <catch2/catch.hpp>

#include "protocol/control.hpp"

using namespace p2p::control;
using nlohmann::json;

namespace {

request parse_ok(const std::string& line) {
  auto r = parse_request(line);
  if (auto e = std::get_if<parse_error>(&r))
    FAIL("unexpected error " << e->code << ": " << e->message << " for " << line);
  return std::get<request>(r);
}

parse_error parse_bad(const std::string& line) {
  auto r = parse_request(line);
  if (std::holds_alternative<request>(r))
    FAIL("expected an error for " << line);
  return std::get<parse_error>(r);
}

std::string req(const std::string& cmd, json args) {
  return json{{"id", 1}, {"token", "t"}, {"cmd", cmd}, {"args", args}}.dump();
}

} // namespace

TEST_CASE("valid requests parse", "[control]") {
  auto r = parse_ok(R"({"id":7,"token":"abc","cmd":"share","args":{"path":"/x/y"}})");
  CHECK(r.id == 7);
  CHECK(r.token == "abc");
  CHECK(r.cmd == "share");
  CHECK(r.args["path"] == "/x/y");

  for (auto cmd : {"ls", "peers", "status", "scan", "clear"}) {
    auto q = parse_ok(json{{"id", "s"}, {"cmd", cmd}}.dump());
    CHECK(q.cmd == cmd);
    CHECK(q.args.is_object());
    CHECK(q.args.empty());
    CHECK(q.id == "s");
    CHECK(q.token.empty());
  }
  CHECK(parse_ok(req("unshare", {{"target", "file.bin"}})).cmd == "unshare");
  CHECK(parse_ok(req("cancel", {{"target", "abcd"}})).cmd == "cancel");
  CHECK(parse_ok(req("scan", {{"timeout_ms", 100}})).args["timeout_ms"] == 100);
  CHECK(parse_ok(req("scan", {{"timeout_ms", 10000}})).cmd == "scan");
  CHECK(parse_ok(req("download", {{"name", "a"}, {"out_dir", "/o"}})).cmd == "download");
  CHECK(parse_ok(req("download", {{"id", "ff"}, {"out_dir", "/o"}, {"wait", true},
                                  {"overwrite", false}}))
          .cmd
        == "download");
  SECTION("id is echoed whatever it is, null when absent") {
    CHECK(parse_ok(R"({"cmd":"ls"})").id.is_null());
    CHECK(parse_ok(R"({"id":{"a":[1]},"cmd":"ls"})").id == json{{"a", {1}}});
    CHECK(parse_ok(R"({"id":null,"cmd":"ls","args":null})").args.is_object());
  }
  SECTION("unknown extra args are ignored") {
    CHECK(parse_ok(req("ls", {{"extra", 1}})).cmd == "ls");
  }
}

TEST_CASE("bad JSON and non-objects", "[control]") {
  for (auto line : {"", "{", "not json", "{\"cmd\":\"ls\"", "{\"cmd\":\"ls\"} trailing",
                    "\xff\xfe"}) {
    auto e = parse_bad(line);
    CHECK(e.code == errc::bad_json);
    CHECK(e.id.is_null());
  }
  for (auto line : {"[]", "42", "\"ls\"", "null", "true"}) {
    auto e = parse_bad(line);
    CHECK(e.code == errc::bad_request);
    CHECK_THAT(e.message, Catch::Contains("object"));
  }
}

TEST_CASE("oversize lines are rejected before parsing", "[control]") {
  std::string line = R"({"cmd":"ls","args":{"x":")" + std::string(max_line, 'a') + "\"}}";
  CHECK(parse_bad(line).code == errc::line_too_long);
}

TEST_CASE("cmd and args validation", "[control]") {
  SECTION("unknown command echoes the id") {
    auto e = parse_bad(R"({"id":5,"cmd":"format-disk"})");
    CHECK(e.code == errc::unknown_command);
    CHECK(e.id == 5);
    CHECK_THAT(e.message, Catch::Contains("format-disk"));
  }
  SECTION("cmd missing or not a string") {
    CHECK(parse_bad(R"({"id":1})").code == errc::bad_request);
    auto e = parse_bad(R"({"id":1,"cmd":3})");
    CHECK(e.code == errc::bad_request);
    CHECK_THAT(e.message, Catch::Contains("cmd"));
  }
  SECTION("token must be a string") {
    auto e = parse_bad(R"({"cmd":"ls","token":5})");
    CHECK(e.code == errc::bad_request);
    CHECK_THAT(e.message, Catch::Contains("token"));
  }
  SECTION("args must be an object") {
    auto e = parse_bad(R"({"cmd":"ls","args":[1]})");
    CHECK(e.code == errc::bad_request);
    CHECK_THAT(e.message, Catch::Contains("args"));
  }
  struct bad_case {
    std::string cmd;
    json args;
    std::string field;
  };
  std::vector<bad_case> cases = {
    {"share", json::object(), "path"},
    {"share", {{"path", ""}}, "path"},
    {"share", {{"path", 3}}, "path"},
    {"unshare", json::object(), "target"},
    {"unshare", {{"target", true}}, "target"},
    {"cancel", json::object(), "target"},
    {"cancel", {{"target", {1, 2}}}, "target"},
    {"scan", {{"timeout_ms", 99}}, "timeout_ms"},
    {"scan", {{"timeout_ms", 10001}}, "timeout_ms"},
    {"scan", {{"timeout_ms", -5}}, "timeout_ms"},
    {"scan", {{"timeout_ms", 500.5}}, "timeout_ms"},
    {"scan", {{"timeout_ms", "500"}}, "timeout_ms"},
    {"download", {{"out_dir", "/o"}}, "name"},
    {"download", {{"name", 5}, {"out_dir", "/o"}}, "name"},
    {"download", {{"id", 5}, {"out_dir", "/o"}}, "id"},
    {"download", {{"name", "a"}}, "out_dir"},
    {"download", {{"name", "a"}, {"out_dir", 1}}, "out_dir"},
    {"download", {{"name", "a"}, {"out_dir", "/o"}, {"wait", "yes"}}, "wait"},
    {"download", {{"name", "a"}, {"out_dir", "/o"}, {"overwrite", 1}}, "overwrite"},
  };
  for (auto& c : cases) {
    INFO(c.cmd << " " << c.args.dump());
    auto e = parse_bad(req(c.cmd, c.args));
    CHECK(e.code == errc::bad_request);
    CHECK(e.id == 1);
    CHECK_THAT(e.message, Catch::Contains(c.field));
  }
}

TEST_CASE("hostile JSON does not crash", "[control]") {
  std::string deep(20000, '[');
  CHECK(parse_bad(deep).code == errc::bad_json);
  std::string deep_ok = std::string(5000, '[') + std::string(5000, ']');
  CHECK(parse_bad(deep_ok).code == errc::bad_request);
  CHECK(parse_bad(std::string("{\"cmd\":\"ls\0\"}", 13)).code == errc::bad_json);
}

TEST_CASE("replies and request lines", "[control]") {
  auto ok = ok_reply(3, {{"n", 1}});
  CHECK(ok == json{{"id", 3}, {"ok", true}, {"result", {{"n", 1}}}});
  auto err = error_reply(nullptr, errc::not_found, "no such file");
  CHECK(err["ok"] == false);
  CHECK(err["id"].is_null());
  CHECK(err["error"]["code"] == "not_found");
  CHECK(err["error"]["message"] == "no such file");
  auto ev = progress_event("x", {{"bytes_done", 10}});
  CHECK(ev["event"] == "progress");
  CHECK(ev["download"]["bytes_done"] == 10);

  auto line = make_request_line(9, "cookie", "share", {{"path", "/a b"}});
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto r = parse_ok(line.substr(0, line.size() - 1));
  CHECK(r.id == 9);
  CHECK(r.token == "cookie");
  CHECK(r.cmd == "share");
  CHECK(r.args["path"] == "/a b");

  auto ls = make_request_line(1, "", "ls", nullptr);
  CHECK(parse_ok(ls.substr(0, ls.size() - 1)).args.is_object());
  // Invalid UTF-8 in a path must not throw.
  CHECK_NOTHROW(make_request_line(2, "t", "share", {{"path", "/bad\xff"}}));
}

TEST_CASE("names that are not UTF-8 travel in requests and replies losslessly",
          "[control][names]") {
  // The Latin-1 name of issue 7: bytes in, the same bytes out.
  std::string path = "/d/\xe9t\xe9.txt";
  auto line = make_request_line(2, "t", "share", {{"path", path}});
  CHECK(line.find("\\\\xe9t\\\\xe9.txt") != std::string::npos); // JSON of `\xe9t\xe9`
  auto r = parse_ok(line.substr(0, line.size() - 1));
  CHECK(r.args["path"].get<std::string>() == path);
  auto back = parse_ok(make_request_line(3, "t", "download",
                                         {{"name", "a\\b\xff"}, {"out_dir", "/o"}}));
  CHECK(back.args["name"].get<std::string>() == "a\\b\xff");
  // A reply's message carries a name the same way and always dumps.
  auto err = error_reply(1, errc::not_found, "no file named " + path);
  CHECK(err["error"]["message"] == "no file named /d/\\xe9t\\xe9.txt");
  CHECK_NOTHROW(err.dump());
}

TEST_CASE("a string argument with a malformed name escape is a bad request",
          "[control][names]") {
  auto e = parse_bad(req("share", {{"path", "/x\\q"}}));
  CHECK(e.code == "bad_request");
  CHECK(e.message.find("path") != std::string::npos);
}

TEST_CASE("null arguments count as absent and are dropped", "[control]") {
  auto r = parse_ok(req("download", {{"name", nullptr}, {"id", "ab"}, {"out_dir", "/o"},
                                     {"overwrite", nullptr}, {"wait", nullptr}}));
  CHECK_FALSE(r.args.contains("name"));
  CHECK_FALSE(r.args.contains("overwrite"));
  CHECK(r.args.value("overwrite", false) == false);
  CHECK(r.args.value("name", std::string{"-"}) == "-");
  CHECK(r.args["id"] == "ab");
  CHECK(parse_ok(req("scan", {{"timeout_ms", nullptr}})).args.empty());
}
