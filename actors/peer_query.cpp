// peer_query: one short exchange with a remote peer_server (hello, then one
// catalog or manifest request), answered through a response promise.
//
// A typed broker, so it runs on the I/O thread: the socket is opened with a
// non-blocking connect (util/net.hpp start_connect) and handed to CAF; a
// connect that fails later shows up as connection_closed_msg.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/broker_lifetime.hpp"
#include "actors/peer_connect.hpp"
#include "protocol/frame.hpp"
#include "storage/manifest.hpp"
#include "util/hex.hpp"
#include "util/net.hpp"

namespace p2p {

namespace {

enum class query_kind { none, catalog, manifest };

struct peer_query_state {
  static inline const char* name = "peer_query";

  std::string endpoint;             // "host:port", prefixes every error
  caf::io::connection_handle conn;
  std::optional<proto::hello_client> opening;
  std::unique_ptr<proto::tls_channel> tls; // --encrypt
  bool connected = false;           // a scribe exists
  bool hello_done = false;          // hello_ack received
  bool request_sent = false;
  uint64_t remote_id = 0;           // from hello_ack
  proto::frame_reader reader;
  query_kind kind = query_kind::none;
  bool conditional = false;         // catalog request with a known version
  uint32_t known = 0;               // that version
  std::string id_hex;               // manifest request: the content id
  proto::content_id id{};
  std::optional<std::string> failure; // failed before a request came in
  caf::typed_response_promise<remote_catalog> catalog_rp;
  caf::typed_response_promise<std::vector<char>> manifest_rp;
  bool answered = false;
};

using query_ptr = peer_query_actor::stateful_broker_pointer<peer_query_state>;

void send_bytes(query_ptr self, const std::vector<char>& bytes) {
  send_sealed(self, self->state.conn, self->state.tls.get(), bytes);
}

// Delivers an error to whoever asked (or remembers it until a request comes)
// and quits once it has been delivered.
void fail(query_ptr self, const std::string& reason, ec code = ec::failed) {
  auto& st = self->state;
  if (st.answered)
    return;
  auto err = make_error(code, st.endpoint + ": " + reason);
  spdlog::debug("peer_query {}: {}", st.endpoint, reason);
  switch (st.kind) {
    case query_kind::none:
      // No request yet: keep the reason for it; quit on the timeout if none
      // ever comes (fail() is called again then).
      if (!st.failure) {
        st.failure = reason;
        return;
      }
      break;
    case query_kind::catalog:
      st.catalog_rp.deliver(err);
      break;
    case query_kind::manifest:
      st.manifest_rp.deliver(err);
      break;
  }
  st.answered = true;
  quit_next_iteration(self);
}

void send_request(query_ptr self) {
  auto& st = self->state;
  if (!st.hello_done || st.request_sent || st.kind == query_kind::none)
    return;
  std::vector<char> out;
  if (st.kind == query_kind::catalog && st.conditional)
    proto::encode_catalog_req(out, st.known);
  else if (st.kind == query_kind::catalog)
    proto::encode_catalog_req(out);
  else
    proto::encode(out, proto::manifest_req_msg{st.id});
  send_bytes(self, out);
  st.request_sent = true;
}

void on_catalog(query_ptr self, const char* p, size_t n) {
  auto& st = self->state;
  proto::catalog_msg msg;
  if (st.kind != query_kind::catalog || !proto::decode(p, n, msg))
    return fail(self, "malformed catalog frame");
  remote_catalog result;
  result.peer_id = st.remote_id;
  result.version = msg.version;
  result.files.reserve(msg.files.size());
  for (auto& f : msg.files)
    result.files.push_back(
      remote_file{std::move(f.name), to_hex(f.id.data(), f.id.size()), f.size});
  spdlog::debug("peer_query {}: catalog with {} files", st.endpoint,
                result.files.size());
  st.catalog_rp.deliver(std::move(result));
  st.answered = true;
  quit_next_iteration(self);
}

// The answer to a conditional catalog request: the asker's copy is current.
void on_catalog_same(query_ptr self, const char* p, size_t n) {
  auto& st = self->state;
  proto::catalog_same_msg msg;
  if (st.kind != query_kind::catalog || !st.conditional || !proto::decode(p, n, msg))
    return fail(self, "unexpected or malformed catalog_same frame");
  remote_catalog result;
  result.peer_id = st.remote_id;
  result.version = msg.version;
  result.unchanged = true;
  st.catalog_rp.deliver(std::move(result));
  st.answered = true;
  quit_next_iteration(self);
}

void on_manifest(query_ptr self, std::vector<char>& payload) {
  auto& st = self->state;
  if (st.kind != query_kind::manifest)
    return fail(self, "unexpected manifest frame");
  auto got = sha256(payload.data(), payload.size());
  if (!std::equal(got.begin(), got.end(), st.id.begin()))
    return fail(self, "manifest does not match content id " + st.id_hex);
  if (!parse_manifest(payload.data(), payload.size()))
    return fail(self, "malformed manifest for " + st.id_hex);
  st.manifest_rp.deliver(std::move(payload));
  st.answered = true;
  quit_next_iteration(self);
}

void on_frame(query_ptr self) {
  auto& st = self->state;
  auto type = st.reader.header().type;
  auto& payload = st.reader.payload();
  if (type == proto::frame_type::error && st.hello_done) {
    proto::error_msg err;
    if (!proto::decode(payload.data(), payload.size(), err))
      return fail(self, "malformed error frame");
    // An older peer refuses a conditional catalog request as malformed.
    bool refused = st.kind == query_kind::catalog && st.conditional
                   && err.code == proto::error_code::bad_request;
    return fail(self, "peer error: " + err.message, refused ? ec::bad_request : ec::failed);
  }
  if (!st.hello_done) {
    std::vector<char> reply; // keyed: our proof of the network key
    if (!st.opening->on_answer(type, payload, reply))
      return fail(self, st.opening->error());
    if (!reply.empty())
      send_bytes(self, reply);
    st.hello_done = true;
    st.remote_id = st.opening->server().peer_id;
    send_request(self);
    return;
  }
  switch (type) {
    case proto::frame_type::catalog:
      return on_catalog(self, payload.data(), payload.size());
    case proto::frame_type::catalog_same:
      return on_catalog_same(self, payload.data(), payload.size());
    case proto::frame_type::manifest:
      return on_manifest(self, payload);
    default:
      return fail(self, "unexpected " + proto::to_string(type) + " frame");
  }
}

// The catalog request (plain, or conditional on `known`), answered through
// the catalog promise.
caf::result<remote_catalog> ask_catalog(query_ptr self, bool conditional, uint32_t known) {
  auto& st = self->state;
  if (st.kind != query_kind::none)
    return make_error(ec::internal, st.endpoint + ": peer_query is single-use");
  st.kind = query_kind::catalog;
  st.conditional = conditional;
  st.known = known;
  self->monitor(self->current_sender());
  st.catalog_rp = self->make_response_promise<remote_catalog>();
  if (st.failure)
    fail(self, *st.failure);
  else
    send_request(self);
  return st.catalog_rp;
}

peer_query_actor::behavior_type peer_query(query_ptr self, std::string host,
                                           uint16_t port, uint64_t self_id,
                                           uint32_t timeout_ms,
                                           std::shared_ptr<const network_secrets> network,
                                           bool encrypt) {
  auto& st = self->state;
  st.endpoint = format_host_port(host, port);
  defer_exit(self); // broker_lifetime.hpp: the connection added here
  // The one who asks is watched: when it is gone (daemon shutdown, a download
  // that ended) nobody waits for the answer, so the query stops at once
  // instead of holding the actor system until its timeout.
  self->set_down_handler([=](const caf::down_msg&) {
    self->state.answered = true;
    quit_next_iteration(self);
  });
  delayed_self_send(self, std::chrono::milliseconds(timeout_ms), timeout_atom::value);
  std::string err;
  if (encrypt && network)
    st.tls = std::make_unique<proto::tls_channel>(proto::tls_channel::role::client,
                                                  network->tls);
  st.opening.emplace(std::move(network), proto::hello_msg{self_id, 0, local_host_name()});
  st.conn = connect_with_hello(self, host, port, *st.opening, st.tls.get(), err);
  st.connected = st.conn != caf::io::connection_handle{};
  if (!st.connected)
    fail(self, err.empty() ? "cannot connect" : err);
  return {
    [=](caf::io::new_data_msg& msg) {
      auto& st = self->state;
      if (st.answered)
        return;
      if (st.tls) {
        auto alive = [&] { return !self->state.answered && !self->state.failure; };
        auto err = read_sealed(self, st.conn, *st.tls, st.reader, msg.buf,
                               [&] { on_frame(self); }, alive);
        if (!err.empty())
          fail(self, err);
        return;
      }
      switch (st.reader.feed(msg.buf)) {
        case proto::frame_reader::step::frame:
          on_frame(self);
          break;
        case proto::frame_reader::step::error:
          fail(self, "bad frame header");
          break;
        case proto::frame_reader::step::more:
          break;
      }
      if (!self->state.answered && self->state.failure == std::nullopt)
        self->configure_read(self->state.conn, caf::io::receive_policy::exactly(
                                                 self->state.reader.want()));
    },
    [=](const caf::io::connection_closed_msg&) {
      fail(self, self->state.hello_done ? "connection closed" : "connection refused or closed");
    },
    [=](catalog_atom) -> caf::result<remote_catalog> { return ask_catalog(self, false, 0); },
    [=](catalog_atom, uint32_t known) -> caf::result<remote_catalog> {
      return ask_catalog(self, true, known);
    },
    [=](manifest_atom, const std::string& id_hex) -> caf::result<std::vector<char>> {
      auto& st = self->state;
      if (st.kind != query_kind::none)
        return make_error(ec::internal, st.endpoint + ": peer_query is single-use");
      auto cid = proto::content_id_from_hex(id_hex);
      if (!cid) {
        st.answered = true;
        quit_next_iteration(self);
        return make_error(ec::bad_request, "bad content id: " + id_hex);
      }
      st.id = *cid;
      st.id_hex = id_hex;
      st.kind = query_kind::manifest;
      self->monitor(self->current_sender());
      st.manifest_rp = self->make_response_promise<std::vector<char>>();
      if (st.failure)
        fail(self, *st.failure);
      else
        send_request(self);
      return st.manifest_rp;
    },
    [=](timeout_atom) {
      auto& st = self->state;
      if (st.answered)
        return;
      auto reason = "timed out after " + std::to_string(timeout_ms) + " ms";
      if (st.kind == query_kind::none && !st.failure)
        st.failure = reason; // nobody asked: fail() below just quits
      fail(self, st.failure ? *st.failure : reason);
    },
  };
}

} // namespace

peer_query_actor spawn_peer_query(caf::actor_system& sys, const std::string& host,
                                  uint16_t port, uint64_t self_id,
                                  uint32_t timeout_ms,
                                  std::shared_ptr<const network_secrets> network,
                                  bool encrypt) {
  return sys.middleman().spawn_broker(peer_query, host, port, self_id, timeout_ms,
                                      std::move(network), encrypt);
}

} // namespace p2p
