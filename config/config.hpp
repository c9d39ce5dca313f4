#pragma once
// Daemon configuration. Precedence: flag > P2P_* env > config file > default.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/defaults.hpp"
#include "protocol/network_key.hpp"

namespace p2p {

struct config {
  std::string state_dir;            // resolved, never empty after load
  std::string control_host;
  uint16_t control_port = 0;
  uint16_t peer_port = 0;           // 0: pick a free port
  std::string advertise_addr;       // empty: the interface's address
  std::string interface;            // name or IPv4; empty: first LAN interface
  std::string multicast_group;
  uint16_t multicast_port = 0;
  std::vector<std::string> peers;   // static peers "HOST:PORT"
  uint32_t chunk_size = 0;
  std::string log_level;
  bool multicast = true;
  uint32_t announce_interval_ms = 0;
  uint32_t peer_expiry_ms = 0;
  uint32_t scan_window_ms = 0;
  uint32_t requests_in_flight = 0;
  uint32_t stall_timeout_ms = 0;
  uint32_t retry_max_ms = 0;        // cap of the reconnect backoff
  uint64_t upload_rate_limit = 0;   // bytes/s per daemon, 0 = unlimited (tests)
  // Peer connections open at once, total and per remote IP; a connection
  // without hello is closed after hello_timeout_ms. Defaulted here too, so a
  // config built field by field (the actor tests) still serves.
  uint32_t max_connections = defaults::max_connections;
  uint32_t max_connections_per_addr = defaults::max_connections_per_addr;
  uint32_t hello_timeout_ms = defaults::hello_timeout_ms;
  // The read-only web page (--http): empty host = off (the default). A bare
  // port in the key means 127.0.0.1 (loopback unless the address says so).
  std::string http_host;
  uint16_t http_port = 0;           // 0: any free port
  // Private swarm (--network-key FILE): the key file's path; the daemon
  // loads it at start (load_network_key) into `network`. `encrypt` (TLS 1.3
  // on peer connections) requires it.
  std::string network_key_file;
  bool encrypt = false;
  // The keys derived from the network key; null without one. Shared, never
  // logged or shown in status.
  std::shared_ptr<const network_secrets> network;
};

// Keys, in the config file (JSON object) and the flags' JSON:
//   state_dir, control_addr ("HOST:PORT"), peer_port, advertise_addr, interface,
//   multicast_group, multicast_port, peers (array of "HOST:PORT"), chunk_size,
//   log_level, multicast (bool), announce_interval_ms, peer_expiry_ms,
//   scan_window_ms, requests_in_flight, stall_timeout_ms, retry_max_ms,
//   upload_rate_limit, max_connections, max_connections_per_addr,
//   hello_timeout_ms, http_addr ("HOST:PORT" or "PORT" for 127.0.0.1:PORT;
//   "" = no web page), network_key (a key file's path; "" = none), encrypt
//   (bool; an error without network_key).
// Env: P2P_STATE_DIR, P2P_CONTROL_ADDR, P2P_PEER_PORT, P2P_ADVERTISE_ADDR,
//   P2P_INTERFACE, P2P_MULTICAST_GROUP, P2P_MULTICAST_PORT, P2P_PEERS
//   (comma-separated), P2P_CHUNK_SIZE, P2P_LOG, P2P_NO_MULTICAST (1/true), P2P_HTTP_ADDR,
//   P2P_NETWORK_KEY, P2P_ENCRYPT (1/true), and
//   P2P_ + the upper-case key for the timing keys (P2P_RETRY_MAX_MS, ...).
// The state dir default: $XDG_STATE_HOME/p2p, else $HOME/.local/state/p2p.

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
env_lookup process_env();

struct config_result {
  std::optional<config> cfg;
  std::string error; // set when cfg is empty: names the key and the problem
};

// Resolves the configuration. `file_json` is the parsed config file (or null),
// `flags` a JSON object holding only the flags the user gave.
// Unknown keys in the file, bad types, ports out of range, a chunk size that
// is not a power of two in 4 KiB..16 MiB, a bad log level or a malformed
// address are errors.
config_result resolve_config(const nlohmann::json& file_json, const env_lookup& env,
                             const nlohmann::json& flags);

// Reads and parses a config file; error text on failure.
config_result load_config(const std::optional<std::string>& file, const env_lookup& env,
                          const nlohmann::json& flags);

bool is_valid_log_level(const std::string& s);

} // namespace p2p
