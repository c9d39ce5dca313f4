#pragma once
// A seeder's state within one download: what storage/seeder_set decides and
// what a download's status reports (actors/messages.hpp peer_bytes). Its own
// header so the messages stay lean.
#include <cstdint>

namespace p2p {

enum class seeder_state : uint8_t {
  connecting, // waiting for its connection (or for the transfer to start)
  active,     // connected, takes requests
  retrying,   // lost; reconnects after a backoff
  dropped,    // not used any more (see seeder_set::seeder::rejoin_after)
  done,       // the download completed while it was in use
};

// "connecting", "active", "retrying", "dropped", "done" (status JSON).
const char* to_string(seeder_state s);

} // namespace p2p
