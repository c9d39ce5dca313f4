#include "protocol/control.hpp"

#include <array>

#include "storage/names.hpp"

namespace p2p::control {

namespace {

using nlohmann::json;

constexpr std::array<const char*, 9> commands = {
  "share", "unshare", "scan", "ls", "peers", "download", "cancel", "status", "clear",
};

bool known_command(const std::string& cmd) {
  for (auto c : commands)
    if (cmd == c)
      return true;
  return false;
}

// Returns an error message, or "" when the member is absent or a string.
// `required` makes absence an error; `non_empty` rejects "".
std::string check_string(const json& args, const char* key, bool required,
                         bool non_empty) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null())
    return required ? std::string(key) + ": missing (a string is required)" : "";
  if (!it->is_string())
    return std::string(key) + ": must be a string, got " + it->type_name();
  if (non_empty && it->get_ref<const std::string&>().empty())
    return std::string(key) + ": must not be empty";
  return "";
}

std::string check_bool(const json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null() || it->is_boolean())
    return "";
  return std::string(key) + ": must be a boolean, got " + it->type_name();
}

// The argument rules of each command; "" when `args` is acceptable.
std::string check_args(const std::string& cmd, const json& args) {
  std::string err;
  if (cmd == "share")
    return check_string(args, "path", true, true);
  if (cmd == "unshare" || cmd == "cancel")
    return check_string(args, "target", true, true);
  if (cmd == "scan") {
    auto it = args.find("timeout_ms");
    if (it == args.end() || it->is_null())
      return "";
    if (!it->is_number_integer())
      return std::string("timeout_ms: must be an integer, got ") + it->type_name();
    bool in_range = it->is_number_unsigned()
                      ? it->get<uint64_t>() >= 100 && it->get<uint64_t>() <= 10000
                      : it->get<int64_t>() >= 100 && it->get<int64_t>() <= 10000;
    if (!in_range)
      return "timeout_ms: " + it->dump() + " is not between 100 and 10000";
    return "";
  }
  if (cmd == "download") {
    if (!(err = check_string(args, "name", false, true)).empty()
        || !(err = check_string(args, "id", false, true)).empty())
      return err;
    auto has = [&](const char* key) {
      auto it = args.find(key);
      return it != args.end() && it->is_string();
    };
    if (!has("name") && !has("id"))
      return "name: missing (download needs a name or an id)";
    if (!(err = check_string(args, "out_dir", true, true)).empty()
        || !(err = check_bool(args, "overwrite")).empty()
        || !(err = check_bool(args, "no_seed")).empty()
        || !(err = check_bool(args, "wait")).empty())
      return err;
  }
  return "";
}

parse_error make_error(json id, const char* code, std::string message) {
  return parse_error{std::move(id), code, std::move(message)};
}

} // namespace

std::variant<request, parse_error> parse_request(const std::string& line) {
  if (line.size() > max_line)
    return make_error(nullptr, errc::line_too_long,
                      "request longer than " + std::to_string(max_line) + " bytes");
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded())
    return make_error(nullptr, errc::bad_json, "request is not valid JSON");
  if (!j.is_object())
    return make_error(nullptr, errc::bad_request,
                      std::string("request must be a JSON object, got ") + j.type_name());
  request req;
  if (auto it = j.find("id"); it != j.end())
    req.id = *it;
  if (auto it = j.find("token"); it != j.end() && !it->is_null()) {
    if (!it->is_string())
      return make_error(req.id, errc::bad_request,
                        std::string("token: must be a string, got ") + it->type_name());
    req.token = it->get<std::string>();
  }
  auto cmd = j.find("cmd");
  if (cmd == j.end() || cmd->is_null())
    return make_error(req.id, errc::bad_request, "cmd: missing");
  if (!cmd->is_string())
    return make_error(req.id, errc::bad_request,
                      std::string("cmd: must be a string, got ") + cmd->type_name());
  req.cmd = cmd->get<std::string>();
  if (!known_command(req.cmd))
    return make_error(req.id, errc::unknown_command, "unknown command: " + req.cmd);
  req.args = json::object();
  if (auto it = j.find("args"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      return make_error(req.id, errc::bad_request,
                        std::string("args: must be an object, got ") + it->type_name());
    req.args = *it;
  }
  if (auto err = check_args(req.cmd, req.args); !err.empty())
    return make_error(req.id, errc::bad_request, req.cmd + ": " + err);
  // The checks treat null as absent; so does everyone after them.
  for (auto it = req.args.begin(); it != req.args.end();)
    it = it->is_null() ? req.args.erase(it) : std::next(it);
  // String arguments are names, paths or ids in the text of name_to_json;
  // from here on they are the bytes they stand for.
  for (auto it = req.args.begin(); it != req.args.end(); ++it) {
    if (!it->is_string())
      continue;
    auto bytes = name_from_json(it->get_ref<const std::string&>());
    if (!bytes)
      return make_error(req.id, errc::bad_request,
                        req.cmd + ": " + it.key()
                          + ": bad escape (a backslash starts \\\\ or \\xHH)");
    *it = std::move(*bytes);
  }
  return req;
}

nlohmann::json ok_reply(const nlohmann::json& id, nlohmann::json result) {
  return {{"id", id}, {"ok", true}, {"result", std::move(result)}};
}

nlohmann::json error_reply(const nlohmann::json& id, const std::string& code,
                           const std::string& message) {
  return {{"id", id},
          {"ok", false},
          {"error", {{"code", code}, {"message", name_to_json(message)}}}};
}

nlohmann::json progress_event(const nlohmann::json& id, nlohmann::json download) {
  return {{"id", id}, {"event", "progress"}, {"download", std::move(download)}};
}

bool token_matches(const std::string& given, const std::string& cookie) {
  unsigned char diff = given.size() == cookie.size() ? 0 : 1;
  for (size_t i = 0; i < given.size() && i < cookie.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ cookie[i]);
  return diff == 0;
}

std::string make_request_line(uint64_t id, const std::string& token,
                              const std::string& cmd, nlohmann::json args) {
  if (args.is_null())
    args = json::object();
  // Names and paths are bytes; parse_request turns them back.
  for (auto& value : args)
    if (value.is_string())
      value = name_to_json(value.get_ref<const std::string&>());
  json j = {{"id", id}, {"token", token}, {"cmd", cmd}, {"args", std::move(args)}};
  return j.dump() + "\n";
}

} // namespace p2p::control
