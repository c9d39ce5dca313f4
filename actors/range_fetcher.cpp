// range_fetcher: one TCP connection to one seeder for one download. Keeps the
// requests its download hands it in flight and passes chunks back unverified.
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/broker_lifetime.hpp"
#include "actors/peer_connect.hpp"
#include "config/defaults.hpp"
#include "protocol/frame.hpp"
#include "util/buffer_pool.hpp"
#include "util/hex.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto tick_interval = std::chrono::milliseconds(defaults::fetcher_tick_ms);

struct fetcher_state {
  static inline const char* name = "range_fetcher";
  download_actor owner;
  seeder_key key = 0;
  std::string endpoint;
  proto::content_id id{};
  caf::io::connection_handle hdl;
  std::optional<proto::hello_client> opening;
  std::unique_ptr<proto::tls_channel> tls; // --encrypt
  proto::frame_reader reader;
  std::set<uint32_t> pending; // requested, not answered
  bool connected = false;     // hello_ack received
  bool done = false;
  clock_type::time_point last_data = clock_type::now();
  std::chrono::milliseconds stall_timeout{0};
  std::chrono::milliseconds connect_timeout{0};
};

using self_ptr = range_fetcher_actor::stateful_broker_pointer<fetcher_state>;

// Reports the end of this connection to the download and quits, closing it
// (one multiplexer iteration later: the connection may be one this iteration
// added; broker_lifetime.hpp). The handlers ignore what arrives meanwhile.
void lost(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  spdlog::debug("fetcher {}: {}", st.endpoint, why);
  self->send(st.owner, lost_atom::value, st.key, why);
  quit_next_iteration(self);
}

void send_frame(self_ptr self, const std::vector<char>& frame) {
  send_sealed(self, self->state.hdl, self->state.tls.get(), frame);
}

// Withdraws the request for chunk `index` (a cancel frame).
void cancel_request(self_ptr self, uint32_t index) {
  std::vector<char> frame;
  proto::encode(frame, proto::chunk_req_msg{self->state.id, index}, true);
  send_frame(self, frame);
}

// Requests the chunks in `indexes` not requested yet, all in one write.
void request_chunks(self_ptr self, const std::vector<uint32_t>& indexes) {
  auto& st = self->state;
  std::vector<char> frames;
  bool idle = st.pending.empty();
  for (auto index : indexes)
    if (st.pending.insert(index).second)
      proto::encode(frames, proto::chunk_req_msg{st.id, index}, false);
  if (frames.empty())
    return;
  if (idle)
    st.last_data = clock_type::now(); // the stall clock starts with work
  send_frame(self, frames);
}

void on_frame(self_ptr self) {
  auto& st = self->state;
  auto& payload = st.reader.payload();
  if (!st.connected) {
    // The seeder's answer to our hello (keyed: proof of the network key).
    std::vector<char> frame;
    if (!st.opening->on_answer(st.reader.header().type, payload, frame)) {
      lost(self, st.opening->error());
      return;
    }
    st.connected = true;
    // Which chunks does it have? Its bitfield makes this fetcher ready.
    proto::encode(frame, proto::interested_msg{st.id});
    send_frame(self, frame);
    return;
  }
  switch (st.reader.header().type) {
    case proto::frame_type::bitfield: {
      proto::bitfield_msg b;
      if (!proto::decode(payload.data(), payload.size(), b) || b.id != st.id) {
        lost(self, "malformed bitfield from seeder");
        return;
      }
      self->send(st.owner, bitfield_atom::value, st.key, std::move(b.bits));
      self->send(st.owner, ready_atom::value, st.key);
      return;
    }
    case proto::frame_type::have: {
      proto::have_msg h;
      if (!proto::decode(payload.data(), payload.size(), h) || h.id != st.id) {
        lost(self, "malformed have from seeder");
        return;
      }
      self->send(st.owner, have_atom::value, st.key, h.index);
      return;
    }
    case proto::frame_type::chunk: {
      const char* data = nullptr;
      size_t len = 0;
      uint32_t index = 0;
      if (!proto::decode_chunk(payload.data(), payload.size(), index, data, len)) {
        lost(self, "malformed chunk frame");
        return;
      }
      if (st.pending.erase(index) == 0)
        return; // cancelled meanwhile
      self->send(st.owner, chunk_atom::value, st.key, index, std::move(payload));
      payload = std::vector<char>{};
      return;
    }
    case proto::frame_type::chunk_run: {
      const char* data = nullptr;
      size_t len = 0;
      uint32_t first = 0;
      uint32_t count = 0;
      if (!proto::decode_chunk_run(payload.data(), payload.size(), first, count, data, len)) {
        lost(self, "malformed chunk_run frame");
        return;
      }
      size_t asked = 0;
      for (uint32_t i = first; i - first < count; ++i)
        asked += st.pending.erase(i);
      if (asked == 0)
        return; // all cancelled meanwhile
      self->send(st.owner, chunk_atom::value, st.key, first, count, std::move(payload));
      payload = std::vector<char>{};
      return;
    }
    case proto::frame_type::error: {
      proto::error_msg e;
      if (!proto::decode(payload.data(), payload.size(), e)) {
        lost(self, "malformed error frame");
        return;
      }
      if (st.pending.erase(e.index) == 0) {
        lost(self, "seeder error: " + std::string{proto::to_string(e.code)} + ": " + e.message);
        return;
      }
      self->send(st.owner, failed_atom::value, st.key, e.index, e.code, e.message);
      return;
    }
    default:
      lost(self, "unexpected frame " + proto::to_string(st.reader.header().type));
  }
}

} // namespace

range_fetcher_actor::behavior_type
range_fetcher(self_ptr self, config cfg, identity me, download_actor owner,
              seeder_key key, std::string endpoint, std::string id_hex) {
  auto& st = self->state;
  st.owner = owner;
  defer_exit(self); // broker_lifetime.hpp: the connection added here
  st.key = key;
  st.endpoint = endpoint;
  st.stall_timeout = std::chrono::milliseconds(cfg.stall_timeout_ms);
  st.connect_timeout = std::chrono::milliseconds(defaults::connect_timeout_ms);
  if (auto cid = proto::content_id_from_hex(id_hex))
    st.id = *cid;
  auto behavior = range_fetcher_actor::behavior_type{
    [=](const caf::io::new_data_msg& msg) {
      auto& st = self->state;
      if (st.done)
        return;
      st.last_data = clock_type::now();
      if (st.tls) {
        auto err = read_sealed(
          self, st.hdl, *st.tls, st.reader, msg.buf, [&] { on_frame(self); },
          [&] { return !self->state.done; });
        if (!err.empty())
          lost(self, err);
        return;
      }
      auto& buf = const_cast<std::vector<char>&>(msg.buf);
      switch (st.reader.feed(buf)) {
        case proto::frame_reader::step::error:
          lost(self, "bad frame from seeder");
          return;
        case proto::frame_reader::step::frame:
          on_frame(self);
          break;
        case proto::frame_reader::step::more:
          // A chunk header: CAF reads its payload into this buffer (it swaps
          // it back as its read buffer). One of exactly that size from the
          // pool is not zero-filled again, as a fresh or emptied one would be.
          if ((st.reader.header().type == proto::frame_type::chunk
               || st.reader.header().type == proto::frame_type::chunk_run)
              && st.reader.want() == st.reader.header().length)
            buf = chunk_buffers().take(st.reader.want());
          break;
      }
      if (!st.done)
        self->configure_read(st.hdl, caf::io::receive_policy::exactly(st.reader.want()));
    },
    [=](const caf::io::connection_closed_msg&) {
      lost(self, self->state.connected ? "connection closed by seeder"
                                       : "cannot connect");
    },
    [=](fetch_atom, const std::vector<uint32_t>& indexes) {
      if (!self->state.done)
        request_chunks(self, indexes);
    },
    [=](cancel_atom, uint32_t index) {
      auto& st = self->state;
      if (!st.done && st.pending.erase(index) > 0)
        cancel_request(self, index);
    },
    [=](tick_atom) {
      auto& st = self->state;
      if (st.done)
        return;
      auto idle = clock_type::now() - st.last_data;
      if (!st.connected && idle > st.connect_timeout) {
        lost(self, "connect timed out");
        return;
      }
      if (!st.pending.empty() && idle > st.stall_timeout) {
        auto ms = st.stall_timeout.count();
        auto secs = std::to_string(ms / 1000);
        if (ms % 1000 != 0) {
          auto frac = std::to_string(1000 + ms % 1000).substr(1); // "500"
          while (frac.back() == '0')
            frac.pop_back();
          secs += "." + frac;
        }
        lost(self, "stalled: no data for " + secs + " s");
        return;
      }
      delayed_self_send(self, tick_interval, tick_atom::value);
    },
  };
  auto hp = parse_host_port(endpoint);
  std::string err = "bad address";
  st.opening.emplace(cfg.network,
                     proto::hello_msg{me.peer_id, me.peer_port, local_host_name()});
  if (cfg.encrypt && cfg.network)
    st.tls = std::make_unique<proto::tls_channel>(proto::tls_channel::role::client,
                                                  cfg.network->tls);
  if (hp)
    st.hdl = connect_with_hello(self, hp->host, hp->port, *st.opening, st.tls.get(), err);
  if (st.hdl == caf::io::connection_handle{}) {
    lost(self, "cannot connect: " + err);
    return behavior;
  }
  delayed_self_send(self, tick_interval, tick_atom::value);
  return behavior;
}

range_fetcher_actor spawn_range_fetcher(caf::actor_system& sys, const config& cfg,
                                        identity self, download_actor owner,
                                        seeder_key key, std::string endpoint,
                                        std::string id_hex) {
  return sys.middleman().spawn_broker(range_fetcher, cfg, self, owner, key,
                                      std::move(endpoint), std::move(id_hex));
}

} // namespace p2p
