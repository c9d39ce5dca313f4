#pragma once
// The deterministic actor tier: an actor system on CAF's
// caf::scheduler::test_coordinator (the model: CAF 0.17.6's
// caf/test/dsl.hpp test_coordinator_fixture, VAST's
// deterministic_actor_system). Actors run only when the test says so, one
// message at a time on the test's thread, and time moves only when the test
// advances the clock: delayed sends, request timeouts and self->clock().now()
// all read the test clock. No middleman: the test_coordinator drives neither
// brokers nor detached actors, so the actors under test reach other daemons
// through fake_lan's plain actors (actors/actors.hpp peer_links) instead of
// TCP.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <catch2/catch.hpp>

#include "actors/actors.hpp"
#include "protocol/frame.hpp"

namespace p2p::test {

// An actor system whose scheduler and clock the test drives. Actors passed
// to own() are killed when the fixture ends; the rest must have ended by then
// (the ones the owned actors spawned and linked to do).
class deterministic_system {
public:
  using time_point = caf::actor_clock::time_point;

  deterministic_system() : sys_(init(cfg_)) {
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler());
    // Away from the clock's zero, as test_coordinator_fixture does.
    sched_->clock().current_time += std::chrono::hours(1);
  }

  ~deterministic_system() {
    for (auto& a : owned_)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    run();
    // Whatever still waits for a timer (a fake peer that never answers) is
    // not waited for: nothing would run it, ~actor_system would wait forever.
    sys_.await_actors_before_shutdown(false);
  }

  deterministic_system(const deterministic_system&) = delete;
  deterministic_system& operator=(const deterministic_system&) = delete;

  caf::actor_system& sys() { return sys_; }

  template <class Handle>
  Handle own(Handle h) {
    owned_.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  // Runs every actor until no message is left; timers do not fire. Returns
  // the number of messages handled (bounded: a message loop fails the test).
  size_t run() {
    size_t n = 0;
    while (sched_->try_run_once())
      if (++n > max_messages)
        FAIL("more than " << max_messages << " messages without the clock moving");
    return n;
  }

  // Runs the next message of one actor (the oldest ready); false when none
  // is left. For tests of the order in which things happen.
  bool run_once() { return sched_->try_run_once(); }

  // Moves the clock forward by `d` in steps of `step`; after each step the
  // timers due fire and every actor runs (so a periodic tick fires once per
  // period, as in real time).
  void advance(std::chrono::milliseconds d,
               std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
    run();
    for (auto done = std::chrono::milliseconds(0); done < d;) {
      auto s = std::min(step, d - done);
      sched_->advance_time(s);
      run();
      done += s;
    }
  }

  time_point now() { return sched_->clock().now(); }

  // Runs every actor until `pred` holds or `timeout` (real time) has passed,
  // for answers from detached actors: real threads, outside the test clock.
  // Returns pred().
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      run();
      if (pred())
        return true;
      if (std::chrono::steady_clock::now() > until)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Sends a request from a fresh hidden scoped actor and runs every actor;
  // returns the answer, or the error, or sec::request_timeout when nothing
  // answered without the clock moving.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& h, Ts&&... xs) {
    caf::scoped_actor self{sys_, true};
    auto rh = self->request(h, caf::infinite, std::forward<Ts>(xs)...);
    run();
    if (self->mailbox().empty())
      return caf::make_error(caf::sec::request_timeout);
    caf::expected<T> out{caf::error{}};
    rh.receive([&](T& x) { out = std::move(x); },
                          [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  // ask() that fails the test on an error.
  template <class T, class Handle, class... Ts>
  T get(const Handle& h, Ts&&... xs) {
    auto res = ask<T>(h, std::forward<Ts>(xs)...);
    if (!res)
      FAIL("request failed: " << caf::to_string(res.error()));
    return std::move(*res);
  }

private:
  static constexpr size_t max_messages = 1000000;

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    return cfg;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<caf::actor> owned_;
};

// Other daemons as the catalog and the downloads see them through
// fake_lan::links(): each peer answers catalog and manifest queries from its
// table (or never, when silent), and each seeder connection is a fake
// range_fetcher that records the chunk requests the download sends it. The
// test plays the fetcher's part: it sends the download ready, chunk and
// failed as the real one would, and has the fake report lost and quit.
struct fake_lan : std::enable_shared_from_this<fake_lan> {
  struct peer {
    uint64_t peer_id = 0;
    std::vector<remote_file> files;
    std::map<std::string, std::vector<char>> manifests; // by content id
    bool silent = false; // takes queries, never answers
    // Its catalog version (0: it tells none, so every conditional request
    // gets the files); a conditional request naming it gets `unchanged`.
    uint32_t version = 0;
    std::vector<uint32_t> asked{}; // conditional requests' known versions, in order
  };

  // One seeder connection a download opened (a fake range_fetcher).
  struct fetcher {
    download_actor owner;
    seeder_key key = 0;
    std::string endpoint;
    std::vector<uint32_t> fetched;   // fetch requests, in order
    std::vector<uint32_t> cancelled; // cancel requests, in order
    bool stopped = false;            // the fetcher actor has ended
    caf::actor_addr addr;            // of the fake (weak: the download owns it)
    std::string lost_reason = "connection lost";
  };

  std::map<std::string, peer> peers;               // by "host:port"
  std::vector<std::shared_ptr<fetcher>> fetchers;  // in the order opened
  size_t queries = 0;                              // peer_queries spawned
  std::vector<std::string> manifest_asked;         // manifest queries' endpoints, in order
  // The first this many manifest queries go unanswered, whichever peer they
  // go to (a download asks its seeders in a random order).
  size_t silent_manifests = 0;

  peer_links links() {
    auto lan = shared_from_this();
    peer_links l;
    l.query = [lan](caf::actor_system& sys, const std::string& host, uint16_t port, uint64_t,
                    uint32_t) {
      ++lan->queries;
      return sys.spawn(fake_query, lan, host + ":" + std::to_string(port));
    };
    l.fetcher = [lan](caf::actor_system& sys, const config&, identity, download_actor owner,
                      seeder_key key, std::string endpoint, std::string) {
      auto f = std::make_shared<fetcher>();
      f->owner = owner;
      f->key = key;
      f->endpoint = std::move(endpoint);
      lan->fetchers.push_back(f);
      auto hdl = sys.spawn(fake_fetcher, f);
      f->addr = caf::actor_cast<caf::actor_addr>(hdl);
      return hdl;
    };
    return l;
  }

  // The latest fetcher opened to `endpoint`; fails the test when none is.
  fetcher& latest(const std::string& endpoint) {
    fetcher* found = nullptr;
    for (auto& f : fetchers)
      if (f->endpoint == endpoint)
        found = f.get();
    INFO("a fetcher opened to " << endpoint);
    REQUIRE(found != nullptr);
    return *found;
  }

  // How many fetchers were opened to `endpoint`.
  size_t opened(const std::string& endpoint) const {
    size_t n = 0;
    for (auto& f : fetchers)
      n += f->endpoint == endpoint ? 1 : 0;
    return n;
  }

private:
  // A silent peer's query quits after this (test) time; the asker's own
  // timeout is far shorter.
  static constexpr auto silent_for = std::chrono::hours(1);

  static peer_query_actor::behavior_type
  fake_query(peer_query_actor::pointer self, std::shared_ptr<fake_lan> lan,
             std::string endpoint) {
    auto find = [lan, endpoint]() -> peer* {
      auto i = lan->peers.find(endpoint);
      return i == lan->peers.end() ? nullptr : &i->second;
    };
    auto silent = [self]() {
      self->delayed_send(self, silent_for, timeout_atom::value);
    };
    // A plain catalog request (`known` empty) or a conditional one.
    auto answer_catalog = [=](std::optional<uint32_t> known) -> caf::result<remote_catalog> {
      auto* p = find();
      if (p != nullptr && p->silent) {
        silent();
        return caf::delegated<remote_catalog>{};
      }
      self->quit();
      if (p == nullptr)
        return make_error(ec::io_error, endpoint + ": connection refused");
      if (!known)
        return remote_catalog{p->peer_id, p->files};
      p->asked.push_back(*known);
      remote_catalog rc{p->peer_id, {}, p->version, false};
      if (p->version != 0 && *known == p->version)
        rc.unchanged = true;
      else
        rc.files = p->files;
      return rc;
    };
    return {
      [](const caf::io::new_data_msg&) {},
      [](const caf::io::connection_closed_msg&) {},
      [=](catalog_atom) -> caf::result<remote_catalog> { return answer_catalog(std::nullopt); },
      [=](catalog_atom, uint32_t known) -> caf::result<remote_catalog> {
        return answer_catalog(known);
      },
      [=](manifest_atom, const std::string& id) -> caf::result<std::vector<char>> {
        auto* p = find();
        lan->manifest_asked.push_back(endpoint);
        if ((p != nullptr && p->silent) || lan->manifest_asked.size() <= lan->silent_manifests) {
          silent();
          return caf::delegated<std::vector<char>>{};
        }
        self->quit();
        if (p == nullptr)
          return make_error(ec::io_error, endpoint + ": connection refused");
        auto m = p->manifests.find(id);
        if (m == p->manifests.end())
          return make_error(ec::not_found, "unknown_file: not shared: " + id);
        return m->second;
      },
      [=](timeout_atom) { self->quit(); },
    };
  }

  // Its tick (sent only by the test: the fake has no timer) is the real
  // fetcher's tick that finds the connection gone or stalled: it sends its
  // download lost and quits, in that order, as range_fetcher does. (A fake
  // that stayed alive would be destroyed as unreachable once the download
  // drops its handle, and take the linked download along.)
  static range_fetcher_actor::behavior_type
  fake_fetcher(range_fetcher_actor::pointer self, std::shared_ptr<fetcher> f) {
    self->attach_functor([f] { f->stopped = true; });
    return {
      [](const caf::io::new_data_msg&) {},
      [](const caf::io::connection_closed_msg&) {},
      [f](fetch_atom, const std::vector<uint32_t>& indexes) {
        f->fetched.insert(f->fetched.end(), indexes.begin(), indexes.end());
      },
      [f](cancel_atom, uint32_t index) { f->cancelled.push_back(index); },
      [self, f](tick_atom) {
        self->send(f->owner, lost_atom::value, f->key, f->lost_reason);
        self->quit();
      },
    };
  }
};

// The payload of a chunk frame for chunk `index` holding `data`: what a
// range_fetcher hands its download in chunk_atom.
inline std::vector<char> chunk_payload(uint32_t index, const std::string& data) {
  std::vector<char> frame;
  proto::encode_chunk_header(frame, index, static_cast<uint32_t>(data.size()));
  std::vector<char> out(frame.begin() + proto::frame_header_size, frame.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

} // namespace p2p::test
