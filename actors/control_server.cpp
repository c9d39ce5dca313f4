// control_server: newline-delimited JSON for p2p-cli (see protocol/control.hpp).
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/broker_lifetime.hpp"
#include "actors/crash_hook.hpp"
#include "config/defaults.hpp"
#include "actors/json.hpp"
#include "protocol/control.hpp"

namespace p2p {

namespace {

using json = nlohmann::json;
using caf::io::connection_handle;

constexpr auto progress_interval = std::chrono::milliseconds(defaults::progress_interval_ms);
constexpr auto ask_timeout = std::chrono::milliseconds(defaults::control_ask_timeout_ms);
// Sharing hashes the files first: a directory of large files takes a while.
constexpr auto share_timeout = std::chrono::milliseconds(defaults::share_timeout_ms);

struct connection {
  std::string buf;          // bytes after the last newline
  bool discarding = false;  // inside an over-long line: drop until newline
};

// A `download` request with "wait": answered when the download ends.
struct waiter {
  connection_handle hdl;
  json id;
  uint64_t key = 0;
  bool polling = false;
};

// A `share` request with "progress": it gets the hashing still to do on
// every tick until its reply.
struct share_waiter {
  connection_handle hdl;
  json id;
};

struct control_state {
  static inline const char* name = "control_server";
  config cfg;
  std::string cookie;
  share_registry_actor registry;
  catalog_actor catalog;
  discovery_actor discovery;
  peer_server_actor peer_server;
  download_manager_actor downloads;
  std::unordered_map<connection_handle, connection> conns;
  std::map<uint64_t, waiter> waiters; // by a local sequence number
  uint64_t next_waiter = 0;
  std::map<uint64_t, share_waiter> share_waiters; // by the same sequence numbers
  bool ticking = false;
};

using self_ptr = control_server_actor::stateful_broker_pointer<control_state>;

void send_line(self_ptr self, connection_handle hdl, const json& j) {
  if (self->state.conns.count(hdl) == 0)
    return; // the client went away
  std::string line;
  try {
    line = j.dump();
  } catch (const nlohmann::json::type_error& e) {
    // A string that skipped name_to_json (a bug): the client still gets an
    // answer and the control server stays up.
    spdlog::error("control: reply is not valid UTF-8: {}", e.what());
    line = control::error_reply(j.contains("id") ? j.at("id") : json{}, control::errc::internal,
                                "reply is not valid UTF-8")
             .dump();
  }
  line += '\n';
  self->write(hdl, line.size(), line.data());
  self->flush(hdl);
}

// Returns a handler that turns an actor error into an error reply.
auto reply_error(self_ptr self, connection_handle hdl, json id) {
  return [=](const caf::error& err) {
    auto [code, msg] = describe(err);
    send_line(self, hdl, control::error_reply(id, code, msg));
  };
}

void schedule_tick(self_ptr self) {
  if (self->state.ticking || (self->state.waiters.empty() && self->state.share_waiters.empty()))
    return;
  self->state.ticking = true;
  delayed_self_send(self, progress_interval, tick_atom::value);
}

// Answers waiter `seq` (still waiting) with download `d`, which has ended:
// ok with the download when complete, else the failed/cancelled error.
void finish_waiter(self_ptr self, uint64_t seq, const download_info& d) {
  auto i = self->state.waiters.find(seq);
  if (i == self->state.waiters.end())
    return; // answered already (poll and wait both saw the end)
  auto w = i->second;
  self->state.waiters.erase(i);
  if (d.state == dl_state::complete)
    send_line(self, w.hdl, control::ok_reply(w.id, {{"download", to_json(d)}}));
  else
    send_line(self, w.hdl,
              // "failed: no seeder left" or "cancelled": the CLI
              // names the download itself.
              control::error_reply(w.id, "failed",
                                   to_string(d.state) + (d.error.empty() ? "" : ": " + d.error)));
}

// Asks download_manager for each waiter's progress (every progress_interval
// while any waits). Without a timeout: CAF 0.17.6 keeps a request's timer
// until it expires even after the reply, so with ask_timeout (30 s) every
// poll left one that fired 30 s later. Four per second per waiter: after the
// bench's 1,000 small downloads (one waiter each) the idle downloader's
// clock and multiplexer threads still woke ~6 times a second for 30 s (strace
// of the clock thread; 0.45 % of a core idle against 0.15 % with no
// downloads before). download_manager is a core actor: it answers, or its
// death ends the daemon (supervision), which ends the waiter's connection.
void poll_waiters(self_ptr self) {
  for (auto& [seq, w] : self->state.waiters) {
    if (w.polling)
      continue;
    w.polling = true;
    auto s = seq;
    self->request(self->state.downloads, caf::infinite, status_atom::value, w.key)
      .then(
        [=](const download_info& d) {
          auto i = self->state.waiters.find(s);
          if (i == self->state.waiters.end())
            return;
          i->second.polling = false;
          if (!is_final(d)) {
            send_line(self, i->second.hdl, control::progress_event(i->second.id, to_json(d)));
            return;
          }
          finish_waiter(self, s, d);
        },
        [=](const caf::error& err) {
          auto i = self->state.waiters.find(s);
          if (i == self->state.waiters.end())
            return;
          auto w = i->second;
          self->state.waiters.erase(i);
          reply_error(self, w.hdl, w.id)(err);
        });
  }
}

// Sends each waiting `share` {"event":"progress","hashing":{"files","bytes_left"}}.
void poll_share_waiters(self_ptr self) {
  if (self->state.share_waiters.empty())
    return;
  self->request(self->state.registry, ask_timeout, hash_atom::value)
    .then([=](uint64_t files, uint64_t left) {
      for (auto& [seq, w] : self->state.share_waiters)
        send_line(self, w.hdl,
                  {{"id", w.id},
                   {"event", "progress"},
                   {"hashing", {{"files", files}, {"bytes_left", left}}}});
    });
}

// Gathers what `status` answers: {"shares","downloads","uploads"} (the
// result object of the `status` reply, which `p2p-cli --json status` prints
// and the web page's /api/status serves). Calls `done` with it, or `fail`
// with the first actor error (a timeout after ask_timeout).
void collect_status(self_ptr self, std::function<void(json)> done,
                    std::function<void(const caf::error&)> fail) {
  auto& st = self->state;
  self->request(st.registry, ask_timeout, list_atom::value)
    .then(
      [=](const std::vector<share_info>& shares) {
        self->request(self->state.downloads, ask_timeout, status_atom::value)
          .then(
            [=](const std::vector<download_info>& downloads) {
              self->request(self->state.peer_server, ask_timeout, uploads_atom::value)
                .then(
                  [=](const upload_stats& up) {
                    done(json{{"shares", to_json(shares)},
                              {"downloads", to_json(downloads)},
                              {"uploads",
                               {{"bytes_total", up.bytes_total},
                                {"active", up.active},
                                {"disk_reads", up.disk_reads},
                                {"zero_copy_chunks", up.zero_copy_chunks}}}});
                  },
                  fail);
            },
            fail);
      },
      fail);
}

void handle_status(self_ptr self, connection_handle hdl, json id) {
  collect_status(
    self,
    [=](json result) { send_line(self, hdl, control::ok_reply(id, std::move(result))); },
    reply_error(self, hdl, id));
}

void handle_download(self_ptr self, connection_handle hdl, const control::request& r) {
  download_request req;
  req.name = r.args.value("name", "");
  req.id_hex = r.args.value("id", "");
  req.out_dir = r.args.value("out_dir", "");
  req.overwrite = r.args.value("overwrite", false);
  req.seed = !r.args.value("no_seed", false);
  bool wait = r.args.value("wait", false);
  auto id = r.id;
  self->request(self->state.downloads, ask_timeout, download_atom::value, req)
    .then(
      [=](const download_info& d) {
        if (!wait) {
          send_line(self, hdl, control::ok_reply(id, {{"download", to_json(d)}}));
          return;
        }
        auto& st = self->state;
        auto seq = st.next_waiter++;
        st.waiters.emplace(seq, waiter{hdl, id, d.key, false});
        poll_waiters(self); // answers at once if it already ended
        schedule_tick(self);
        // The final answer the moment the download ends, not at the next
        // progress poll (up to progress_interval later: 12 % of a 2 s
        // download in bench/). No timeout: the poll still answers if this
        // never does (CAF 0.17 keeps a request's timer running after the
        // reply).
        self->request(st.downloads, caf::infinite, wait_atom::value, d.key)
          .then([=](const download_info& fin) { finish_waiter(self, seq, fin); },
                [](const caf::error&) {});
      },
      reply_error(self, hdl, id));
}

void dispatch(self_ptr self, connection_handle hdl, const control::request& r) {
  auto& st = self->state;
  auto id = r.id;
  auto fail = reply_error(self, hdl, id);
  auto ok = [=](json result) {
    send_line(self, hdl, control::ok_reply(id, std::move(result)));
  };
  if (r.cmd == "share") {
    auto seq = st.next_waiter++;
    bool progress = r.args.value("progress", false);
    self->request(st.registry, share_timeout, share_atom::value,
                  r.args["path"].get<std::string>())
      .then(
        [=](const share_result& s) {
          self->state.share_waiters.erase(seq);
          ok(to_json(s));
        },
        [=](const caf::error& err) {
          self->state.share_waiters.erase(seq);
          fail(err);
        });
    if (progress) {
      st.share_waiters.emplace(seq, share_waiter{hdl, id});
      poll_share_waiters(self); // at once: the registry has queued the hashing by then
      schedule_tick(self);
    }
  } else if (r.cmd == "unshare") {
    self->request(st.registry, ask_timeout, unshare_atom::value,
                  r.args["target"].get<std::string>())
      .then([=](const std::vector<share_info>& s) { ok({{"removed", to_json(s)}}); },
            fail);
  } else if (r.cmd == "scan") {
    if (st.discovery)
      self->send(st.discovery, scan_atom::value);
    auto window = r.args.value("timeout_ms", uint32_t{0});
    self->request(st.catalog, ask_timeout, scan_atom::value, window)
      .then([=](const scan_result& s) { ok({{"peers", s.peers}, {"files", s.files}}); },
            fail);
  } else if (r.cmd == "ls") {
    self->request(st.catalog, ask_timeout, list_atom::value)
      .then([=](const std::vector<file_offer>& f) { ok({{"files", to_json(f)}}); },
            fail);
  } else if (r.cmd == "peers") {
    self->request(st.catalog, ask_timeout, peers_atom::value)
      .then([=](const std::vector<peer_info>& p) { ok({{"peers", to_json(p)}}); },
            fail);
  } else if (r.cmd == "download") {
    handle_download(self, hdl, r);
  } else if (r.cmd == "cancel") {
    self->request(st.downloads, ask_timeout, cancel_atom::value,
                  r.args["target"].get<std::string>())
      .then(
        [=](const std::vector<download_info>& d) { ok({{"cancelled", to_json(d)}}); },
        fail);
  } else if (r.cmd == "clear") {
    self->request(st.downloads, ask_timeout, clear_atom::value)
      .then([=](const std::vector<download_info>& d) { ok({{"cleared", to_json(d)}}); },
            fail);
  } else if (r.cmd == "status") {
    handle_status(self, hdl, id);
  } else {
    send_line(self, hdl,
              control::error_reply(id, control::errc::unknown_command, r.cmd));
  }
}

void handle_line(self_ptr self, connection_handle hdl, const std::string& line) {
  auto parsed = control::parse_request(line);
  if (auto* e = std::get_if<control::parse_error>(&parsed)) {
    send_line(self, hdl, control::error_reply(e->id, e->code, e->message));
    return;
  }
  auto& r = std::get<control::request>(parsed);
  if (!control::token_matches(r.token, self->state.cookie)) {
    send_line(self, hdl,
              control::error_reply(r.id, control::errc::unauthorized,
                                   "bad or missing token (read it from "
                                   "<state-dir>/control.cookie)"));
    return;
  }
  spdlog::debug("control: {}", r.cmd);
  try {
    dispatch(self, hdl, r);
  } catch (const std::exception& e) {
    // parse_request guarantees the types dispatch reads; if that ever slips,
    // the client gets an error instead of the control server dying.
    spdlog::error("control: {} failed: {}", r.cmd, e.what());
    send_line(self, hdl, control::error_reply(r.id, control::errc::internal, e.what()));
  }
}

void handle_data(self_ptr self, connection_handle hdl, const std::vector<char>& data) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return;
  size_t start = 0;
  for (size_t pos = 0; pos < data.size(); ++pos) {
    if (data[pos] != '\n')
      continue;
    auto& c = self->state.conns[hdl];
    if (c.discarding) {
      c.discarding = false;
      c.buf.clear();
    } else {
      c.buf.append(data.data() + start, pos - start);
      std::string line;
      line.swap(c.buf);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (!line.empty())
        handle_line(self, hdl, line);
    }
    start = pos + 1;
    if (self->state.conns.count(hdl) == 0)
      return;
  }
  auto& c = self->state.conns[hdl];
  if (c.discarding)
    return;
  c.buf.append(data.data() + start, data.size() - start);
  if (c.buf.size() > control::max_line) {
    c.buf.clear();
    c.discarding = true;
    send_line(self, hdl,
              control::error_reply(nullptr, control::errc::line_too_long,
                                   "request longer than "
                                     + std::to_string(control::max_line) + " bytes"));
  }
}

control_server_actor::behavior_type
control_server(self_ptr self, config cfg, std::string cookie,
               share_registry_actor registry, catalog_actor catalog,
               discovery_actor discovery, peer_server_actor peer_server,
               download_manager_actor downloads, caf::io::doorman_ptr doorman) {
  arm_crash_hook(self);
  defer_exit(self); // broker_lifetime.hpp: the doorman added here
  self->add_doorman(std::move(doorman));
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.cookie = std::move(cookie);
  st.registry = registry;
  st.catalog = catalog;
  st.discovery = discovery;
  st.peer_server = peer_server;
  st.downloads = downloads;
  return {
    [=](const caf::io::new_connection_msg& msg) {
      self->state.conns.emplace(msg.handle, connection{});
      self->configure_read(msg.handle, caf::io::receive_policy::at_most(16 * 1024));
    },
    [=](const caf::io::new_data_msg& msg) { handle_data(self, msg.handle, msg.buf); },
    [=](const caf::io::connection_closed_msg& msg) {
      auto& st = self->state;
      st.conns.erase(msg.handle);
      for (auto i = st.waiters.begin(); i != st.waiters.end();)
        i = i->second.hdl == msg.handle ? st.waiters.erase(i) : std::next(i);
      for (auto i = st.share_waiters.begin(); i != st.share_waiters.end();)
        i = i->second.hdl == msg.handle ? st.share_waiters.erase(i) : std::next(i);
    },
    [=](const caf::io::acceptor_closed_msg&) {
      spdlog::error("control port closed");
      self->quit();
    },
    [=](status_atom) -> caf::result<std::string> {
      // The web page's /api/status (http/web_server.cpp): the same document.
      auto rp = self->make_response_promise<std::string>();
      collect_status(
        self,
        [rp](json result) mutable {
          // name_to_json made every string valid UTF-8; replace, never throw.
          rp.deliver(result.dump(-1, ' ', false, json::error_handler_t::replace));
        },
        [rp](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](tick_atom) {
      self->state.ticking = false;
      poll_waiters(self);
      poll_share_waiters(self);
      schedule_tick(self);
    },
  };
}

} // namespace

caf::expected<caf::io::doorman_ptr> listen_control(caf::actor_system& sys,
                                                   const config& cfg) {
  auto doorman = sys.middleman().backend().new_tcp_doorman(
    cfg.control_port, cfg.control_host.c_str(), true);
  if (!doorman)
    return make_error(ec::io_error,
                      "cannot listen on control address " + cfg.control_host + ":"
                        + std::to_string(cfg.control_port) + ": "
                        + sys.render(doorman.error()));
  return std::move(*doorman);
}

control_server_actor
spawn_control_server(caf::actor_system& sys, const config& cfg, std::string cookie,
                     share_registry_actor registry, catalog_actor catalog,
                     discovery_actor discovery, peer_server_actor peer_server,
                     download_manager_actor downloads, caf::io::doorman_ptr doorman) {
  // The broker adopts the listening socket in its own context.
  return sys.middleman().spawn_broker(control_server, cfg, std::move(cookie), registry,
                                      catalog, discovery, peer_server, downloads,
                                      std::move(doorman));
}

} // namespace p2p
