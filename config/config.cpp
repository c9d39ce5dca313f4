#include "config/config.hpp"

#include <array>
#include <cstdlib>
#include <limits>

#include <arpa/inet.h>
#include <nlohmann/json.hpp>

#include "config/defaults.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

using nlohmann::json;

constexpr std::array<const char*, 5> log_levels = {"trace", "debug", "info", "warn",
                                                   "error"};

// Thrown inside this file only; resolve_config turns it into config_result.
struct config_error {
  std::string text;
};

// Where a value came from, appended to error texts so the user knows what to fix.
struct source {
  enum kind_t { file, env, flag } kind;
  std::string env_name;

  std::string suffix() const {
    switch (kind) {
      case file:
        return " (in the config file)";
      case env:
        return " (from " + env_name + ")";
      case flag:
        return "";
    }
    return "";
  }
};

[[noreturn]] void fail(const std::string& key, const std::string& problem,
                       const source& src) {
  throw config_error{key + ": " + problem + src.suffix()};
}

std::string quoted(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool parse_decimal(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
      return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Env values are text; flags may be text too (CLI11 hands out strings). Both
// become JSON values of the type the key expects, so one validator serves all.
json number_from_text(const std::string& key, const std::string& text,
                      const source& src) {
  uint64_t v;
  if (!parse_decimal(text, v))
    fail(key, "'" + text + "' is not a non-negative integer", src);
  return v;
}

// JSON integers written as literals are signed; only their sign matters here.
bool is_negative(const json& integer) {
  return !integer.is_number_unsigned() && integer.get<int64_t>() < 0;
}

uint64_t get_unsigned(const std::string& key, const json& v, uint64_t lo, uint64_t hi,
                      const source& src) {
  json value = v;
  if (v.is_string() && src.kind != source::file)
    value = number_from_text(key, v.get<std::string>(), src);
  if (!value.is_number_integer())
    fail(key, "expected an integer, got " + quoted(v), src);
  if (is_negative(value))
    fail(key, quoted(v) + " is out of range " + std::to_string(lo) + ".."
                + std::to_string(hi), src);
  auto n = value.get<uint64_t>();
  if (n < lo || n > hi)
    fail(key, quoted(value) + " is out of range " + std::to_string(lo) + ".."
                + std::to_string(hi), src);
  return n;
}

std::string get_string(const std::string& key, const json& v, const source& src) {
  if (!v.is_string())
    fail(key, "expected a string, got " + quoted(v), src);
  return v.get<std::string>();
}

bool get_bool(const std::string& key, const json& v, const source& src) {
  if (v.is_boolean())
    return v.get<bool>();
  if (v.is_string() && src.kind != source::file) {
    auto s = v.get<std::string>();
    if (s == "1" || s == "true" || s == "yes" || s == "on")
      return true;
    if (s == "0" || s == "false" || s == "no" || s == "off")
      return false;
  }
  fail(key, "expected true or false, got " + quoted(v), src);
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return "";
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string checked_peer(const std::string& key, const std::string& s,
                         const source& src) {
  auto hp = parse_host_port(s);
  if (!hp || hp->host.empty() || hp->port == 0)
    fail(key, "'" + s + "' is not HOST:PORT with a port 1..65535", src);
  return s;
}

// Applies one key. Throws config_error when the key is unknown or its value bad.
void apply(config& cfg, const std::string& key, const json& v, const source& src) {
  if (key == "state_dir") {
    cfg.state_dir = get_string(key, v, src);
    if (cfg.state_dir.empty())
      fail(key, "must not be empty", src);
  } else if (key == "control_addr") {
    auto text = get_string(key, v, src);
    auto hp = parse_host_port(text);
    if (!hp || hp->host.empty())
      fail(key, "'" + text + "' is not HOST:PORT with a port 0..65535", src);
    cfg.control_host = hp->host;
    cfg.control_port = hp->port;
  } else if (key == "peer_port") {
    cfg.peer_port = static_cast<uint16_t>(get_unsigned(key, v, 0, 65535, src));
  } else if (key == "advertise_addr") {
    auto text = get_string(key, v, src);
    if (!text.empty() && !is_ip_literal(text))
      fail(key, "'" + text + "' is not an IP address", src);
    cfg.advertise_addr = text;
  } else if (key == "interface") {
    cfg.interface = get_string(key, v, src);
  } else if (key == "multicast_group") {
    auto text = get_string(key, v, src);
    in_addr addr{};
    if (inet_pton(AF_INET, text.c_str(), &addr) != 1
        || (ntohl(addr.s_addr) >> 28) != 0xe)
      fail(key, "'" + text + "' is not an IPv4 multicast address (224.0.0.0/4)", src);
    cfg.multicast_group = text;
  } else if (key == "multicast_port") {
    cfg.multicast_port = static_cast<uint16_t>(get_unsigned(key, v, 1, 65535, src));
  } else if (key == "peers") {
    std::vector<std::string> peers;
    if (v.is_string() && src.kind != source::file) {
      // P2P_PEERS and a flag given as one string: comma-separated.
      auto text = v.get<std::string>();
      size_t start = 0;
      for (;;) {
        auto comma = text.find(',', start);
        auto item = trim(text.substr(start, comma - start));
        if (!item.empty())
          peers.push_back(checked_peer(key, item, src));
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    } else if (v.is_array()) {
      for (auto& item : v)
        peers.push_back(checked_peer(key, get_string(key, item, src), src));
    } else {
      fail(key, "expected an array of \"HOST:PORT\" strings, got " + quoted(v), src);
    }
    cfg.peers = std::move(peers);
  } else if (key == "chunk_size") {
    json value = v;
    if (v.is_string() && src.kind != source::file)
      value = number_from_text(key, v.get<std::string>(), src);
    if (!value.is_number_integer())
      fail(key, "expected an integer, got " + quoted(v), src);
    if (is_negative(value) || !is_valid_chunk_size(value.get<uint64_t>()))
      fail(key, quoted(value) + " is not a power of two between "
                  + std::to_string(min_chunk_size) + " and "
                  + std::to_string(max_chunk_size), src);
    cfg.chunk_size = value.get<uint32_t>();
  } else if (key == "log_level") {
    auto text = get_string(key, v, src);
    if (!is_valid_log_level(text))
      fail(key, "'" + text + "' is not one of trace, debug, info, warn, error", src);
    cfg.log_level = text;
  } else if (key == "multicast") {
    cfg.multicast = get_bool(key, v, src);
  } else if (key == "no_multicast" && src.kind == source::flag) {
    cfg.multicast = !get_bool(key, v, src);
  } else if (key == "announce_interval_ms") {
    cfg.announce_interval_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "peer_expiry_ms") {
    cfg.peer_expiry_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "scan_window_ms") {
    cfg.scan_window_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "requests_in_flight") {
    cfg.requests_in_flight = static_cast<uint32_t>(get_unsigned(key, v, 1, 1024, src));
  } else if (key == "stall_timeout_ms") {
    cfg.stall_timeout_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "retry_max_ms") {
    cfg.retry_max_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "max_connections") {
    cfg.max_connections = static_cast<uint32_t>(get_unsigned(key, v, 1, 65536, src));
  } else if (key == "max_connections_per_addr") {
    cfg.max_connections_per_addr =
      static_cast<uint32_t>(get_unsigned(key, v, 1, 65536, src));
  } else if (key == "hello_timeout_ms") {
    cfg.hello_timeout_ms = static_cast<uint32_t>(get_unsigned(key, v, 1, 86400000, src));
  } else if (key == "http_addr") {
    auto text = get_string(key, v, src);
    if (text.empty()) {
      cfg.http_host.clear();
      cfg.http_port = 0;
      return;
    }
    // A bare port: loopback, so the page is never on the LAN by accident.
    auto hp = text.find_first_not_of("0123456789") == std::string::npos
                ? parse_host_port("127.0.0.1:" + text)
                : parse_host_port(text);
    if (!hp || hp->host.empty())
      fail(key, "'" + text + "' is not HOST:PORT or PORT with a port 0..65535", src);
    cfg.http_host = hp->host;
    cfg.http_port = hp->port;
  } else if (key == "network_key") {
    cfg.network_key_file = get_string(key, v, src);
  } else if (key == "encrypt") {
    cfg.encrypt = get_bool(key, v, src);
  } else if (key == "upload_rate_limit") {
    cfg.upload_rate_limit =
      get_unsigned(key, v, 0, std::numeric_limits<uint64_t>::max(), src);
  } else {
    throw config_error{"unknown key '" + key + "'" + src.suffix()};
  }
}

config defaults_config() {
  config cfg;
  cfg.control_host = defaults::control_host;
  cfg.control_port = defaults::control_port;
  cfg.peer_port = defaults::peer_port;
  cfg.multicast_group = defaults::multicast_group;
  cfg.multicast_port = defaults::multicast_port;
  cfg.chunk_size = defaults::chunk_size;
  cfg.log_level = defaults::log_level;
  cfg.multicast = true;
  cfg.announce_interval_ms = defaults::announce_interval_ms;
  cfg.peer_expiry_ms = defaults::peer_expiry_ms;
  cfg.scan_window_ms = defaults::scan_window_ms;
  cfg.requests_in_flight = defaults::requests_in_flight;
  cfg.stall_timeout_ms = defaults::stall_timeout_ms;
  cfg.retry_max_ms = defaults::retry_max_ms;
  cfg.upload_rate_limit = 0;
  cfg.max_connections = defaults::max_connections;
  cfg.max_connections_per_addr = defaults::max_connections_per_addr;
  cfg.hello_timeout_ms = defaults::hello_timeout_ms;
  return cfg;
}

// Env variables: P2P_ + the upper-case key, except the two named otherwise.
struct env_key {
  const char* key;
  const char* var;
};
constexpr std::array<env_key, 24> env_keys = {{
  {"state_dir", "P2P_STATE_DIR"},
  {"control_addr", "P2P_CONTROL_ADDR"},
  {"peer_port", "P2P_PEER_PORT"},
  {"advertise_addr", "P2P_ADVERTISE_ADDR"},
  {"interface", "P2P_INTERFACE"},
  {"multicast_group", "P2P_MULTICAST_GROUP"},
  {"multicast_port", "P2P_MULTICAST_PORT"},
  {"peers", "P2P_PEERS"},
  {"chunk_size", "P2P_CHUNK_SIZE"},
  {"log_level", "P2P_LOG"},
  {"announce_interval_ms", "P2P_ANNOUNCE_INTERVAL_MS"},
  {"peer_expiry_ms", "P2P_PEER_EXPIRY_MS"},
  {"scan_window_ms", "P2P_SCAN_WINDOW_MS"},
  {"requests_in_flight", "P2P_REQUESTS_IN_FLIGHT"},
  {"stall_timeout_ms", "P2P_STALL_TIMEOUT_MS"},
  {"retry_max_ms", "P2P_RETRY_MAX_MS"},
  {"upload_rate_limit", "P2P_UPLOAD_RATE_LIMIT"},
  {"max_connections", "P2P_MAX_CONNECTIONS"},
  {"max_connections_per_addr", "P2P_MAX_CONNECTIONS_PER_ADDR"},
  {"hello_timeout_ms", "P2P_HELLO_TIMEOUT_MS"},
  {"http_addr", "P2P_HTTP_ADDR"},
  {"network_key", "P2P_NETWORK_KEY"},
  {"encrypt", "P2P_ENCRYPT"},
  {"multicast", "P2P_NO_MULTICAST"}, // inverted below
}};

std::optional<std::string> lookup(const env_lookup& env, const std::string& name) {
  if (!env)
    return std::nullopt;
  auto v = env(name);
  if (v && v->empty())
    return std::nullopt; // an empty variable counts as unset
  return v;
}

void apply_env(config& cfg, const env_lookup& env) {
  for (auto& ek : env_keys) {
    auto value = lookup(env, ek.var);
    if (!value)
      continue;
    source src{source::env, ek.var};
    if (std::string(ek.key) == "multicast")
      cfg.multicast = !get_bool(ek.key, *value, src);
    else
      apply(cfg, ek.key, *value, src);
  }
}

std::string default_state_dir(const env_lookup& env) {
  if (auto xdg = lookup(env, "XDG_STATE_HOME"))
    return join_path(*xdg, "p2p");
  if (auto home = lookup(env, "HOME"))
    return join_path(*home, ".local/state/p2p");
  return "";
}

} // namespace

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (auto v = std::getenv(name.c_str()))
      return std::string(v);
    return std::nullopt;
  };
}

bool is_valid_log_level(const std::string& s) {
  for (auto l : log_levels)
    if (s == l)
      return true;
  return false;
}

config_result resolve_config(const nlohmann::json& file_json, const env_lookup& env,
                             const nlohmann::json& flags) {
  config_result result;
  try {
    auto cfg = defaults_config();
    if (!file_json.is_null()) {
      if (!file_json.is_object())
        throw config_error{"config file: expected a JSON object, got "
                           + std::string(file_json.type_name())};
      for (auto& [key, value] : file_json.items())
        apply(cfg, key, value, source{source::file, ""});
    }
    apply_env(cfg, env);
    if (!flags.is_null()) {
      if (!flags.is_object())
        throw config_error{"flags: expected a JSON object"};
      for (auto& [key, value] : flags.items())
        if (key != "config" && !value.is_null()) // the file itself was read already
          apply(cfg, key, value, source{source::flag, ""});
    }
    if (cfg.encrypt && cfg.network_key_file.empty())
      throw config_error{"encrypt: needs a network key (--network-key FILE; "
                         "p2p-cli keygen FILE makes one)"};
    if (cfg.state_dir.empty()) {
      cfg.state_dir = default_state_dir(env);
      if (cfg.state_dir.empty())
        throw config_error{"state_dir: no default (set P2P_STATE_DIR, XDG_STATE_HOME "
                           "or HOME, or pass --state-dir)"};
    }
    result.cfg = std::move(cfg);
  } catch (const config_error& e) {
    result.error = e.text;
  }
  return result;
}

config_result load_config(const std::optional<std::string>& file, const env_lookup& env,
                          const nlohmann::json& flags) {
  auto path = file;
  if (!path && flags.is_object()) {
    auto it = flags.find("config");
    if (it != flags.end() && it->is_string())
      path = it->get<std::string>();
  }
  json file_json; // null: no file
  if (path) {
    auto text = read_file(*path);
    if (!text) {
      config_result r;
      r.error = "config file " + *path + ": cannot read: " + errno_text(errno);
      return r;
    }
    file_json = json::parse(*text, nullptr, false, true);
    if (file_json.is_discarded()) {
      config_result r;
      r.error = "config file " + *path + ": not valid JSON";
      return r;
    }
    if (!file_json.is_object()) {
      config_result r;
      r.error = "config file " + *path + ": expected a JSON object";
      return r;
    }
  }
  return resolve_config(file_json, env, flags);
}

} // namespace p2p
