#pragma once
// Every default of the daemon in one place (the old p2p_config).
#include <cstdint>

namespace p2p::defaults {

constexpr const char* multicast_group = "224.0.0.123";
constexpr uint16_t multicast_port = 7645;
constexpr int multicast_ttl = 1;
constexpr const char* control_host = "127.0.0.1";
constexpr uint16_t control_port = 7646;
constexpr uint16_t peer_port = 7647;
constexpr uint32_t chunk_size = 256 * 1024;
constexpr const char* log_level = "info";

// Discovery and catalog timing.
constexpr uint32_t announce_interval_ms = 5000;  // periodic announce
constexpr uint32_t peer_expiry_ms = 16000;       // silent peer dropped after
constexpr uint32_t scan_window_ms = 1000;        // `scan` waits for answers
constexpr uint32_t scan_reply_jitter_ms = 200;   // answers to a scan spread over

// Transfers.
constexpr uint32_t requests_in_flight = 16;      // per range_fetcher
constexpr uint32_t server_requests_per_conn = 32; // peer_server bound per connection
constexpr uint32_t stall_timeout_ms = 10000;     // no data from a seeder for this long
constexpr uint32_t connect_timeout_ms = 5000;
constexpr uint32_t max_bad_chunks = 3;           // a seeder is dropped after
constexpr uint32_t resume_save_interval_ms = 1000;
constexpr uint32_t retry_base_ms = 500;          // reconnect backoff base
constexpr uint32_t retry_max_ms = 10000;         // and cap (--retry-max-ms)
constexpr uint32_t max_retries = 5;              // per seeder, before it is dropped

} // namespace p2p::defaults
