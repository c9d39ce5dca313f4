#include "storage/manifest_rounds.hpp"

namespace p2p {

manifest_rounds::step manifest_rounds::start(const seeder_set& seeders, time_point now) {
  if (pending_ || seeders.size() == 0)
    return {};
  pending_ = true;
  next_ = 0;
  return next(seeders, now);
}

manifest_rounds::step manifest_rounds::tick(const seeder_set& seeders, time_point now) {
  if (pending_ && now - asked_ >= hedge_)
    return next(seeders, now);
  return start(seeders, now);
}

void manifest_rounds::answered() {
  if (outstanding_ > 0)
    --outstanding_;
  pending_ = false;
}

manifest_rounds::step manifest_rounds::failed(const seeder_set& seeders,
                                              const std::string& error, time_point now) {
  if (outstanding_ > 0)
    --outstanding_;
  error_ = error;
  return next(seeders, now);
}

manifest_rounds::step manifest_rounds::next(const seeder_set& seeders, time_point now) {
  while (next_ < seeders.size()) {
    const auto& ep = seeders.at(static_cast<seeder_set::key>(next_++)).endpoint;
    auto hp = parse_host_port(ep);
    if (!hp) {
      error_ = "bad seeder address " + ep;
      continue;
    }
    ++outstanding_;
    asked_ = now;
    return step{step::kind::ask, *hp, {}};
  }
  if (outstanding_ > 0)
    return {}; // the round ends with the last answer
  pending_ = false;
  if (seeders.size() == 0)
    return {}; // wait for seeders
  if (++rounds_ >= rounds_max_)
    return step{step::kind::give_up, {}, "could not get the manifest from any seeder: " + error_};
  return {};
}

} // namespace p2p
