#pragma once
// Whom a download asks for its manifest, and when it gives up: plain logic,
// no CAF (the download actor spawns the queries). One seeder at a time per
// round, in the seeder set's order. An error passes the turn on at once; a
// seeder silent for `hedge` gets the next one asked too (see tick), so one
// mute seeder never holds the start. A round with seeders and no manifest
// counts; after rounds_max of them the download fails. With no seeder known
// it waits (nothing counts).
#include <chrono>
#include <cstdint>
#include <string>

#include "storage/seeder_set.hpp"
#include "util/net.hpp"

namespace p2p {

class manifest_rounds {
public:
  using time_point = seeder_set::time_point;

  struct step {
    enum class kind { none, ask, give_up } what = kind::none;
    host_port to;       // ask: the seeder's peer_server
    std::string reason; // give_up: why
  };

  manifest_rounds(uint32_t rounds_max, std::chrono::milliseconds hedge)
    : rounds_max_(rounds_max), hedge_(hedge) {}

  // Begins a round unless one is going or no seeder is known.
  step start(const seeder_set& seeders, time_point now);
  // Timer: a hedge when the last one asked has been silent too long, else start().
  step tick(const seeder_set& seeders, time_point now);
  // A manifest arrived (the round ends).
  void answered();
  // A query failed with `error`: the next seeder's turn.
  step failed(const seeder_set& seeders, const std::string& error, time_point now);

private:
  step next(const seeder_set& seeders, time_point now);

  uint32_t rounds_max_;
  std::chrono::milliseconds hedge_;
  bool pending_ = false;    // a round is going
  uint32_t rounds_ = 0;     // rounds ended without a manifest
  size_t next_ = 0;         // next seeder to ask in this round
  size_t outstanding_ = 0;  // queries not answered yet
  std::string error_;       // the last failure
  time_point asked_;
};

} // namespace p2p
