#pragma once
// Shared pieces of the actor tests: temp dirs, an actor system with the
// middleman loaded, typed requests with a timeout, and test configs.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/messages.hpp"
#include "config/config.hpp"

namespace p2p::test {

struct temp_dir {
  std::string path;
  temp_dir() {
    auto tmpl = (std::filesystem::temp_directory_path() / "p2p-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

inline void write_file(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Deterministic pseudo-random bytes.
inline std::string random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

struct actor_env {
  caf::actor_system_config acfg;
  std::unique_ptr<caf::actor_system> sys;
  actor_env() {
    acfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(acfg);
  }
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

// Sends a request and waits for the typed answer (or the error).
template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  caf::expected<T> out{caf::error{}};
  self->request(h, std::chrono::seconds(10), std::forward<Ts>(xs)...)
    .receive([&](T& x) { out = std::move(x); },
             [&](caf::error& e) { out = std::move(e); });
  return out;
}

// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

} // namespace p2p::test
