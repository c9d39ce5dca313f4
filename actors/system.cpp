#include "actors/system.hpp"

#include <chrono>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "util/net.hpp"

namespace p2p {

void configure_actor_system(caf::actor_system_config& caf_cfg) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  caf_cfg.load<caf::io::middleman>();
  caf_cfg.set("scheduler.policy", caf::atom("stealing"));
  // After a job a worker polls: 100 tries without sleeping (CAF's default),
  // then 4 tries 250 us apart (default: 500 tries 50 us apart, 25 ms of
  // clock_nanosleep after every timer tick or datagram), then it sleeps on
  // its condition variable, which an enqueue from outside (sockets, timers)
  // wakes. The relaxed timeout only paces stealing from a busy worker's
  // queue: 1 s instead of 10 ms, which woke 4 idle workers 400 times a second.
  // 4 tries (1 ms) instead of 20 (5 ms), 2026-12-01: an idle daemon alone
  // 9-14 ms of CPU in 20 s against 17-26, one polling 3 static peers 17-22
  // against 28-82 (loopback, schedstat, alternating binaries); the bench's
  // 1 GiB and 1,000-file downloads the same within the noise (0.48-0.55x the
  // raw copy against 0.51-0.64x, 1.5-2.1 s against 1.85-2.1 s).
  caf_cfg.set("work-stealing.aggressive-poll-attempts", size_t{100});
  caf_cfg.set("work-stealing.moderate-poll-attempts", size_t{4});
  caf_cfg.set("work-stealing.moderate-sleep-duration",
              caf::timespan{microseconds(250)});
  caf_cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan{milliseconds(1000)});
}

peer_links tcp_links(std::shared_ptr<const network_secrets> network, bool encrypt) {
  auto query = [network, encrypt](caf::actor_system& sys, const std::string& host,
                                  uint16_t port, uint64_t self_id, uint32_t timeout_ms) {
    return spawn_peer_query(sys, host, port, self_id, timeout_ms, network, encrypt);
  };
  return {query, spawn_range_fetcher};
}

std::string pick_advertise_addr(const config& cfg) {
  if (!cfg.advertise_addr.empty())
    return cfg.advertise_addr;
  if (!cfg.interface.empty())
    if (auto ip = interface_ipv4(cfg.interface))
      return *ip;
  return default_lan_ipv4();
}

namespace {

uint64_t random_peer_id() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0)
    id = (uint64_t{rd()} << 32) ^ rd();
  return id;
}

} // namespace

std::vector<std::pair<std::string, caf::actor>> core_actors(const daemon_handles& h) {
  std::vector<std::pair<std::string, caf::actor>> out;
  auto add = [&](const char* name, const auto& hdl) {
    if (hdl)
      out.emplace_back(name, caf::actor_cast<caf::actor>(hdl));
  };
  add("share_registry", h.registry);
  add("peer_server", h.peer_server);
  add("catalog", h.catalog);
  add("discovery", h.discovery);
  add("download_manager", h.downloads);
  add("control_server", h.control);
  return out;
}

namespace {

// Control server first (no new requests), share registry last.
void stop_actors(daemon_handles& h) {
  auto actors = core_actors(h);
  for (auto i = actors.rbegin(); i != actors.rend(); ++i)
    caf::anon_send_exit(i->second, caf::exit_reason::user_shutdown);
}

// Spawns in an order that puts every step that can fail before discovery's
// first announce; see start_daemon.
caf::error spawn_all(caf::actor_system& sys, const config& cfg, const std::string& cookie,
                     daemon_handles& h) {
  if (!cfg.interface.empty() && !interface_ipv4(cfg.interface))
    return make_error(ec::bad_request,
                      "no IPv4 address on interface '" + cfg.interface + "'");
  h.self.peer_id = random_peer_id();
  h.self.advertise_addr = pick_advertise_addr(cfg);
  h.registry = spawn_share_registry(sys, cfg);
  auto ps = spawn_peer_server(sys, cfg, h.registry, h.self.peer_id, h.self.peer_port);
  if (!ps)
    return ps.error();
  h.peer_server = *ps;
  auto control_door = listen_control(sys, cfg);
  if (!control_door)
    return control_door.error();
  h.control_port = (*control_door)->port();
  h.catalog = spawn_catalog(sys, cfg, h.self, tcp_links(cfg.network, cfg.encrypt));
  if (cfg.multicast) {
    auto d = spawn_discovery(sys, cfg, h.self, h.catalog);
    if (!d)
      return d.error();
    h.discovery = *d;
    caf::anon_send(h.registry, subscribe_atom::value,
                   caf::actor_cast<shares_listener_actor>(h.discovery));
  }
  h.downloads = spawn_download_manager(sys, cfg, h.self, h.catalog, h.registry,
                                       tcp_links(cfg.network, cfg.encrypt));
  h.control = spawn_control_server(sys, cfg, cookie, h.registry, h.catalog, h.discovery,
                                   h.peer_server, h.downloads, std::move(*control_door));
  return caf::none;
}

} // namespace

caf::expected<daemon_handles> start_daemon(caf::actor_system& sys, const config& cfg,
                                           const std::string& cookie) {
  daemon_handles h;
  if (auto err = spawn_all(sys, cfg, cookie, h)) {
    stop_actors(h);
    return err;
  }
  return h;
}

void stop_daemon(caf::actor_system& sys, daemon_handles& h) {
  caf::scoped_actor self{sys};
  if (h.discovery)
    self->request(h.discovery, std::chrono::milliseconds(300), bye_atom::value)
      .receive([](bool) {}, [](const caf::error&) {});
  if (h.downloads)
    self->request(h.downloads, std::chrono::milliseconds(1200), stop_atom::value)
      .receive([](bool) {},
               [](const caf::error& err) {
                 spdlog::warn("downloads did not stop in time: {}", caf::to_string(err));
               });
  stop_actors(h);
}

} // namespace p2p
