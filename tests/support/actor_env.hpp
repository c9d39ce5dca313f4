#pragma once
// Shared pieces of the actor tests: temp dirs, an actor system with the
// middleman loaded, typed requests with a timeout, polling, and test configs.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/system.hpp"
#include "config/config.hpp"
#include "tests/support/bytes.hpp"
#include "tests/support/temp_dir.hpp"

namespace p2p::test {

// An actor system with the I/O module, for one test case. Actors passed to
// own() are killed when the test case ends (also when a REQUIRE fails), so
// the system's destructor does not wait for them forever. P2P_TEST_DEBUG in
// the environment turns on debug logging.
struct actor_env {
  caf::actor_system_config acfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> owned;
  actor_env() {
    if (std::getenv("P2P_TEST_DEBUG") != nullptr)
      spdlog::set_level(spdlog::level::debug);
    configure_actor_system(acfg);
    sys = std::make_unique<caf::actor_system>(acfg);
  }
  ~actor_env() {
    for (auto& a : owned)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    sys.reset();
  }
  actor_env(const actor_env&) = delete;
  actor_env& operator=(const actor_env&) = delete;
  template <class Handle>
  Handle own(Handle h) {
    owned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }
};

// Open file descriptors of this process (sockets a broker leaked stay open).
inline size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

// Holds CAF's I/O thread (the multiplexer, which runs every broker) from
// construction until release() or destruction, so that a broker spawned and
// sent messages meanwhile starts and handles them in one loop iteration, as
// it may under load.
class io_thread_gate {
public:
  explicit io_thread_gate(caf::actor_system& sys) {
    auto opened = open_.get_future().share();
    sys.middleman().backend().post([opened] { opened.wait(); });
  }
  ~io_thread_gate() { release(); }
  io_thread_gate(const io_thread_gate&) = delete;
  io_thread_gate& operator=(const io_thread_gate&) = delete;

  void release() {
    if (!released_)
      open_.set_value();
    released_ = true;
  }

private:
  std::promise<void> open_;
  bool released_ = false;
};

// A config with every default, the given state dir, multicast off, ports 0,
// and `overrides` (config-file keys) applied.
inline config test_config(const std::string& state_dir,
                          nlohmann::json overrides = nlohmann::json::object()) {
  overrides["state_dir"] = state_dir;
  if (!overrides.contains("multicast"))
    overrides["multicast"] = false;
  if (!overrides.contains("control_addr"))
    overrides["control_addr"] = "127.0.0.1:0";
  if (!overrides.contains("peer_port"))
    overrides["peer_port"] = 0;
  auto no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  auto res = resolve_config(nlohmann::json(nullptr), no_env, overrides);
  if (!res.cfg)
    FAIL("bad test config: " << res.error);
  return *res.cfg;
}

// Sends a request and waits up to `timeout` for the typed answer (or the
// error).
template <class T, class Handle, class... Ts>
caf::expected<T> ask_within(caf::scoped_actor& self, std::chrono::milliseconds timeout,
                            const Handle& h, Ts&&... xs) {
  caf::expected<T> out{caf::error{}};
  self->request(h, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { out = std::move(x); },
             [&](caf::error& e) { out = std::move(e); });
  return out;
}

// ask_within with 10 s.
template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  return ask_within<T>(self, std::chrono::seconds(10), h, std::forward<Ts>(xs)...);
}

// Polls `pred` every 20 ms until it holds or `timeout` passes; `pred` is
// tried once more after the deadline.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace p2p::test
