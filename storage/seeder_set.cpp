#include "storage/seeder_set.hpp"

#include <algorithm>

namespace p2p {

seeder_set::seeder_set(limits lim, std::function<uint64_t(uint64_t, uint64_t)> random)
  : lim_(lim), random_(std::move(random)) {}

bool seeder_set::alive(key k) const {
  return seeders_[k].st != state::dropped;
}

bool seeder_set::starving() const {
  return !seeders_.empty()
         && std::none_of(seeders_.begin(), seeders_.end(),
                         [](const seeder& s) { return s.st != state::dropped; });
}

void seeder_set::connect(key k, actions& out) {
  auto& s = seeders_[k];
  s.st = state::connecting;
  s.linked = true;
  s.useless = false;
  out.push_back(action{action::kind::connect, k, 0, {}, {}});
}

void seeder_set::fill_slots(actions& out) {
  if (!started_)
    return;
  auto used = static_cast<uint64_t>(std::count_if(seeders_.begin(), seeders_.end(), holds_slot));
  auto useful = static_cast<uint64_t>(std::count_if(
    seeders_.begin(), seeders_.end(), [](const seeder& s) { return s.linked && !s.useless; }));
  for (key k = 0; k < seeders_.size() && used < lim_.max_linked && useful < wanted_; ++k)
    if (!seeders_[k].linked && seeders_[k].st == state::connecting) {
      connect(k, out);
      ++used;
      ++useful;
    }
}

bool seeder_set::waiting() const {
  return std::any_of(seeders_.begin(), seeders_.end(),
                     [](const seeder& s) { return !s.linked && s.st == state::connecting; });
}

seeder_set::actions seeder_set::start(time_point, uint32_t wanted) {
  actions out;
  started_ = true;
  wanted_ = std::max<uint32_t>(wanted, 1);
  fill_slots(out);
  return out;
}

seeder_set::actions seeder_set::useful(key k, bool has_wanted) {
  actions out;
  if (k >= seeders_.size() || !seeders_[k].linked || seeders_[k].useless == !has_wanted)
    return out;
  seeders_[k].useless = !has_wanted;
  fill_slots(out);
  return out;
}

seeder_set::actions seeder_set::widen() {
  actions out;
  wanted_ = UINT32_MAX;
  fill_slots(out);
  return out;
}

seeder_set::actions seeder_set::listed(const std::vector<std::string>& endpoints,
                                       time_point now, bool decide) {
  actions out;
  if (!first_listed_)
    first_listed_ = now;
  if (!endpoints.empty())
    last_offered_ = now;
  for (const auto& ep : endpoints) {
    auto known = std::find_if(seeders_.begin(), seeders_.end(),
                              [&](const seeder& s) { return s.endpoint == ep; });
    if (known == seeders_.end()) {
      seeder s;
      s.endpoint = ep;
      seeders_.push_back(std::move(s));
      continue;
    }
    auto& s = *known;
    if (s.st != state::dropped || !s.rejoin_after || now < *s.rejoin_after || !started_)
      continue;
    // One more attempt: a failure drops it again (and starts a new wait), so a
    // peer listed while dead costs one connection per retry_max_ms.
    s.rejoin_after.reset();
    s.retries = lim_.max_retries;
    s.st = state::connecting; // connected below when a slot is free
  }
  fill_slots(out);
  if (!decide || !starving())
    return out;
  auto may_return = [&](const seeder& s) {
    return s.rejoin_after
           && std::find(endpoints.begin(), endpoints.end(), s.endpoint) != endpoints.end();
  };
  if (std::any_of(seeders_.begin(), seeders_.end(), may_return))
    return out; // wait: it rejoins when back, or the catalog forgets it
  std::string why;
  for (const auto& s : seeders_)
    why += (why.empty() ? "" : "; ") + s.endpoint + ": " + s.error;
  out.push_back(
    action{action::kind::fail, 0, 0, {}, "no seeder could finish the file (" + why + ")"});
  return out;
}

std::string seeder_set::unoffered(time_point now) const {
  using ms = std::chrono::milliseconds;
  if (lim_.unoffered_fail_ms == 0 || !first_listed_
      || std::any_of(seeders_.begin(), seeders_.end(),
                     [](const seeder& s) { return s.st != state::dropped; }))
    return {};
  if (now - *first_listed_ < ms(lim_.offer_grace_ms))
    return {};
  auto since = std::max(*first_listed_, last_offered_.value_or(*first_listed_));
  auto silent = std::chrono::duration_cast<ms>(now - since);
  if (silent < ms(lim_.unoffered_fail_ms))
    return {};
  return "no seeder has offered this content for " + std::to_string(silent.count() / 1000)
         + " s (" + (last_offered_ ? "the last one went away" : "none since the download started")
         + ")";
}

void seeder_set::connected(key k) {
  if (k >= seeders_.size() || !seeders_[k].linked)
    return;
  seeders_[k].st = state::active;
}

void seeder_set::chunk_ok(key k, uint64_t bytes) {
  auto& s = seeders_[k];
  s.bytes += bytes;
  s.retries = 0;
}

seeder_set::actions seeder_set::bad_chunk(key k, uint32_t chunk) {
  auto& s = seeders_[k];
  actions out;
  if (s.st == state::dropped)
    return out;
  out.push_back(action{action::kind::fail_chunk, k, chunk, {}, {}});
  ++s.bad_chunks;
  s.error = "chunk " + std::to_string(chunk) + " failed its hash";
  if (s.bad_chunks >= lim_.max_bad_chunks) {
    auto more = drop(k, "sent " + std::to_string(s.bad_chunks)
                          + " chunks that failed their hash",
                     false, time_point{});
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

seeder_set::actions seeder_set::error(key k, uint32_t chunk, proto::error_code code,
                                      const std::string& message) {
  auto& s = seeders_[k];
  actions out;
  if (s.st == state::dropped)
    return out;
  s.error = std::string{proto::to_string(code)} + ": " + message;
  switch (code) {
    case proto::error_code::busy:
      out.push_back(action{action::kind::release_chunk, k, chunk, {}, {}});
      return out;
    case proto::error_code::unknown_file:
    case proto::error_code::changed:
      return drop(k, s.error, false, time_point{});
    case proto::error_code::io:
      out.push_back(action{action::kind::fail_chunk, k, chunk, {}, {}});
      if (++s.io_errors >= lim_.io_errors_max) {
        auto more = drop(k, "answered " + std::to_string(s.io_errors)
                              + " io errors (last: " + s.error + ")",
                         false, time_point{});
        out.insert(out.end(), more.begin(), more.end());
      }
      return out;
    case proto::error_code::not_have:
      out.push_back(action{action::kind::not_have_chunk, k, chunk, {}, {}});
      return out;
    case proto::error_code::bad_index:
    case proto::error_code::bad_request:
      break;
  }
  out.push_back(action{action::kind::fail_chunk, k, chunk, {}, {}});
  return out;
}

seeder_set::actions seeder_set::lost(key k, const std::string& reason, time_point now) {
  auto& s = seeders_[k];
  actions out;
  if (s.st == state::dropped)
    return out;
  s.linked = false;
  s.error = reason;
  if (++s.retries > lim_.max_retries)
    return drop(k,
                reason + " (gave up after " + std::to_string(lim_.max_retries) + " retries)",
                true, now);
  s.st = state::retrying;
  auto ms = backoff_ms(s.retries, lim_.retry_base_ms, lim_.retry_max_ms);
  auto jittered = random_(ms / 2, ms);
  out.push_back(action{action::kind::stop, k, 0, {}, {}});
  out.push_back(action{action::kind::retry, k, 0, std::chrono::milliseconds(jittered), reason});
  fill_slots(out); // it holds a slot while it waits, but is no useful source now
  return out;
}

seeder_set::actions seeder_set::retry_due(key k) {
  actions out;
  if (k >= seeders_.size() || seeders_[k].st != state::retrying)
    return out;
  if (started_)
    connect(k, out);
  else
    seeders_[k].st = state::connecting;
  return out;
}

seeder_set::actions seeder_set::misbehaved(key k, const std::string& reason) {
  if (k >= seeders_.size())
    return {};
  return drop(k, reason, false, time_point{});
}

void seeder_set::pace(std::chrono::milliseconds elapsed, uint32_t chunk_bytes) {
  if (elapsed.count() <= 0 || chunk_bytes == 0)
    return;
  for (auto& s : seeders_) {
    uint64_t got = s.bytes - s.paced_bytes;
    s.paced_bytes = s.bytes;
    // Only a seeder that took requests over the interval has a rate to
    // measure: one connecting or waiting for its retry keeps what it had, so
    // it comes back with the depth it left with, not the minimum.
    if (s.st != state::active)
      continue;
    uint64_t sample = got * 1000 / static_cast<uint64_t>(elapsed.count());
    s.rate = (s.rate + sample) / 2;
    uint64_t want = s.rate * lim_.queue_ms / 1000 / chunk_bytes;
    // A --requests-in-flight below min_depth wins; never 0.
    uint64_t hi = std::max<uint32_t>(1, lim_.max_depth);
    uint64_t lo = std::min<uint64_t>(std::max<uint32_t>(1, lim_.min_depth), hi);
    s.depth = static_cast<uint32_t>(std::clamp<uint64_t>(want, lo, hi));
  }
}

uint32_t seeder_set::depth(key k) const {
  if (k >= seeders_.size() || seeders_[k].depth == 0)
    return std::min(std::max<uint32_t>(1, lim_.start_depth), std::max<uint32_t>(1, lim_.max_depth));
  return seeders_[k].depth;
}

void seeder_set::complete() {
  for (auto& s : seeders_)
    if (s.st != state::dropped)
      s.st = state::done;
}

uint64_t seeder_set::backoff_ms(uint32_t attempt, uint32_t base_ms, uint32_t cap_ms) {
  uint64_t ms = base_ms;
  for (uint32_t i = 1; i < attempt && ms < cap_ms; ++i)
    ms *= 2;
  return std::max<uint64_t>(std::min<uint64_t>(ms, cap_ms), 1);
}

seeder_set::actions seeder_set::drop(key k, const std::string& reason, bool may_rejoin,
                                     time_point now) {
  auto& s = seeders_[k];
  actions out;
  if (s.st == state::dropped)
    return out;
  s.st = state::dropped;
  s.error = reason;
  s.linked = false;
  s.rejoin_after.reset();
  if (may_rejoin)
    s.rejoin_after = now + std::chrono::milliseconds(lim_.retry_max_ms);
  out.push_back(action{action::kind::stop, k, 0, {}, reason});
  fill_slots(out); // a seeder waiting for a slot takes this one
  return out;
}

const char* to_string(seeder_set::state s) {
  switch (s) {
    case seeder_set::state::connecting: return "connecting";
    case seeder_set::state::active: return "active";
    case seeder_set::state::retrying: return "retrying";
    case seeder_set::state::dropped: return "dropped";
    case seeder_set::state::done: return "done";
  }
  return "unknown";
}

} // namespace p2p
