#pragma once
// Small socket helpers shared by the daemon, the CLI and tests. Plain POSIX, no CAF.
#include <cstdint>
#include <optional>
#include <string>

namespace p2p {

struct host_port {
  std::string host;
  uint16_t port = 0;
};

// Parses "HOST:PORT" (HOST may be "[v6]"); port 0..65535. nullopt when malformed.
std::optional<host_port> parse_host_port(const std::string& s);

// Formats "host:port" ("[v6]:port" for IPv6 literals).
std::string format_host_port(const std::string& host, uint16_t port);

// Starts a non-blocking TCP connect to a numeric IPv4/IPv6 address or a name
// that resolves locally (e.g. "localhost"). Returns the socket (connect may
// still be in progress) or -1 with `err` set. The caller owns the socket.
int start_connect(const std::string& host, uint16_t port, std::string& err);

// Blocking connect with a timeout; returns the socket (blocking mode) or -1.
int connect_with_timeout(const std::string& host, uint16_t port, int timeout_ms,
                         std::string& err);

// IPv4 address of a named interface ("eth0") or the interface holding the
// given IPv4 address; nullopt if none.
std::optional<std::string> interface_ipv4(const std::string& name_or_ip);

// This machine's host name (gethostname), "p2p" if it has none; what the
// hello frame tells peers.
std::string local_host_name();

// The first non-loopback, up, IPv4 interface address; "127.0.0.1" if none.
std::string default_lan_ipv4();

} // namespace p2p
