#pragma once
// Control channel between p2p-cli and its daemon: one JSON object per line.
// Names, paths and messages in it are name_to_json text (storage/names.hpp).
//
// Request:  {"id":N,"token":"<cookie>","cmd":"<name>","args":{...}}
// Replies:  {"id":N,"ok":true,"result":{...}}
//           {"id":N,"ok":false,"error":{"code":"...","message":"..."}}
// Progress: {"id":N,"event":"progress","download":{...}}   (download with wait)
//
// Commands and their args (docs/protocol.md has the results):
//   share     {"path": absolute path}
//   unshare   {"target": name | path | id}
//   scan      {"timeout_ms": optional, 100..10000}
//   ls        {}
//   peers     {}
//   download  {"name": optional, "id": optional (one of both required),
//              "out_dir": absolute dir, "overwrite": bool, "wait": bool}
//   cancel    {"target": name | id}
//   status    {}
#include <cstdint>
#include <optional>
#include <variant>
#include <string>

#include <nlohmann/json.hpp>

namespace p2p::control {

constexpr size_t max_line = 64 * 1024;

// Error codes carried in error replies.
namespace errc {
constexpr const char* bad_json = "bad_json";
constexpr const char* bad_request = "bad_request";
constexpr const char* unauthorized = "unauthorized";
constexpr const char* unknown_command = "unknown_command";
constexpr const char* line_too_long = "line_too_long";
constexpr const char* not_found = "not_found";
constexpr const char* ambiguous = "ambiguous";
constexpr const char* exists = "exists";
constexpr const char* io_error = "io_error";
constexpr const char* failed = "failed";
constexpr const char* internal = "internal";
} // namespace errc

struct request {
  nlohmann::json id;        // echoed back; null when absent
  std::string token;
  std::string cmd;
  nlohmann::json args;      // always an object after parsing
};

struct parse_error {
  nlohmann::json id;
  std::string code;
  std::string message;
};

// Parses and validates one line (without its newline): JSON object, string
// "cmd" among the known commands, "args" an object with the required members
// of the right types (null counts as absent, and is removed from "args").
// Does not check the token.
// Returns the request, or the error reply to send.
std::variant<request, parse_error> parse_request(const std::string& line);

// True when `given` equals the control cookie `cookie`; compares in constant
// time (for the cookie's length), so the token cannot be guessed byte by byte.
// Used by the control channel and the web page (http/web_server.cpp).
bool token_matches(const std::string& given, const std::string& cookie);

nlohmann::json ok_reply(const nlohmann::json& id, nlohmann::json result);
nlohmann::json error_reply(const nlohmann::json& id, const std::string& code,
                           const std::string& message);
nlohmann::json progress_event(const nlohmann::json& id, nlohmann::json download);

// Builds a request line (with trailing newline) for the CLI.
std::string make_request_line(uint64_t id, const std::string& token,
                              const std::string& cmd, nlohmann::json args);

} // namespace p2p::control
