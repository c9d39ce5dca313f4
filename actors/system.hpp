#pragma once
// Starts and stops the daemon's actors (used by daemon/main.cpp and tests).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// Fills `caf_cfg` with what the daemon runs on (the actor tests use it too):
// the I/O module and a work-stealing scheduler that sleeps when idle. CAF
// 0.17's default polls: every idle worker wakes each 10 ms
// (work-stealing.relaxed-sleep-duration) and polls 25 ms after every job, so
// an idle daemon used 1.5-1.7 % of a core (30-34 ticks in 20 s) and 32 of
// them on one machine half a core. Now 0-2 ticks in 20 s; figures and the
// choice against work sharing (no polling at all, but a futex wake per
// message from the I/O thread) in docs/profiling.md.
void configure_actor_system(caf::actor_system_config& caf_cfg);

// The address others should dial: --advertise-addr, else the --interface's
// IPv4, else the first LAN interface.
std::string pick_advertise_addr(const config& cfg);

// Spawns every actor, binds the peer and control ports. `cookie` is the
// control token. Everything that can fail (an unknown --interface, a taken
// peer or control port, the multicast group) is tried before discovery
// announces us; on an error the actors already spawned are stopped before it
// returns, so the caller can exit at once.
caf::expected<daemon_handles> start_daemon(caf::actor_system& sys, const config& cfg,
                                           const std::string& cookie);

// The core actors that are running, each with its state name ("catalog",
// ...): the daemon is useless without any one of them, so p2p-daemon
// monitors them all.
std::vector<std::pair<std::string, caf::actor>> core_actors(const daemon_handles& h);

// Says bye on the LAN, lets downloads save their resume records, then stops
// every actor. Bounded to about 1.5 seconds.
void stop_daemon(caf::actor_system& sys, daemon_handles& h);

} // namespace p2p
