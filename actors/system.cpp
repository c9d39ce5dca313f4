#include "actors/system.hpp"

#include <chrono>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "util/net.hpp"

namespace p2p {

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

caf::expected<daemon_handles> start_daemon(caf::actor_system& sys, const config& cfg,
                                           const std::string& cookie) {
  daemon_handles h;
  h.self.peer_id = random_peer_id();
  h.self.advertise_addr = pick_advertise_addr(cfg);
  h.registry = spawn_share_registry(sys, cfg);
  auto ps = spawn_peer_server(sys, cfg, h.registry, h.self.peer_id, h.self.peer_port);
  if (!ps)
    return ps.error();
  h.peer_server = *ps;
  h.catalog = spawn_catalog(sys, cfg, h.self);
  if (cfg.multicast) {
    auto d = spawn_discovery(sys, cfg, h.self, h.catalog);
    if (!d)
      return d.error();
    h.discovery = *d;
    caf::anon_send(h.registry, subscribe_atom::value,
                   caf::actor_cast<shares_listener_actor>(h.discovery));
  }
  h.downloads = spawn_download_manager(sys, cfg, h.self, h.catalog);
  auto cs = spawn_control_server(sys, cfg, cookie, h.registry, h.catalog, h.discovery,
                                 h.peer_server, h.downloads, h.control_port);
  if (!cs)
    return cs.error();
  h.control = *cs;
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
  auto stop = [&](auto& hdl) {
    if (hdl)
      self->send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  stop(h.control);
  stop(h.downloads);
  stop(h.discovery);
  stop(h.catalog);
  stop(h.peer_server);
  stop(h.registry);
}

} // namespace p2p
