#pragma once
// Starts and stops the daemon's actors (used by daemon/main.cpp and tests).
#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "actors/actors.hpp"

namespace p2p {

struct daemon_handles {
  identity self;
  uint16_t control_port = 0;
  share_registry_actor registry;
  peer_server_actor peer_server;
  catalog_actor catalog;
  discovery_actor discovery; // null with multicast off
  download_manager_actor downloads;
  control_server_actor control;
};

// The address others should dial: --advertise-addr, else the --interface's
// IPv4, else the first LAN interface.
std::string pick_advertise_addr(const config& cfg);

// Spawns every actor, binds the peer and control ports. `cookie` is the
// control token.
caf::expected<daemon_handles> start_daemon(caf::actor_system& sys, const config& cfg,
                                           const std::string& cookie);

// Says bye on the LAN, lets downloads save their resume records, then stops
// every actor. Bounded to about 1.5 seconds.
void stop_daemon(caf::actor_system& sys, daemon_handles& h);

} // namespace p2p
