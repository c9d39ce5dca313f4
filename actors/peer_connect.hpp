#pragma once
// The client side of the peer protocol's opening, shared by the brokers that
// dial a peer_server (range_fetcher, peer_query).
#include <memory>
#include <string>
#include <vector>

#include <caf/io/connection_handle.hpp>
#include <caf/io/receive_policy.hpp>

#include "protocol/frame.hpp"
#include "protocol/hello_auth.hpp"
#include "protocol/tls_channel.hpp"
#include "util/net.hpp"

namespace p2p {

// Starts a non-blocking connect to host:port, hands the socket to `self`'s
// multiplexer, asks for the first frame header and sends the opening's first
// frame (`opening`: hello, or auth_hello with a network key; the hello names
// this host: util/net.hpp local_host_name), inside TLS when `tls` is not
// null (--encrypt). Returns the connection, or
// a default handle with `err` set ("" when the cause is unknown). A connect
// that fails later arrives as connection_closed_msg.
// Reads of an encrypted connection: whatever arrived, at most this much.
constexpr uint32_t tls_read_max = 256 * 1024;

// The one place a client broker writes: `bytes` go out as they are, or
// sealed by `tls` (--encrypt) when it is not null.
template <class Broker>
void send_sealed(Broker* self, caf::io::connection_handle hdl, proto::tls_channel* tls,
                 const std::vector<char>& bytes) {
  if (tls == nullptr) {
    self->write(hdl, bytes.size(), bytes.data());
  } else {
    tls->write_plain(bytes.data(), bytes.size());
    tls->take_ciphertext(self->wr_buf(hdl));
  }
  self->flush(hdl);
}

// The one place a client broker reads an encrypted connection: decrypts
// `buf`, sends what the TLS session answers (handshake), feeds `reader` and
// calls `on_frame()` for each whole frame while `alive()`. Returns "" or why
// the connection must be closed.
template <class Broker, class OnFrame, class Alive>
std::string read_sealed(Broker* self, caf::io::connection_handle hdl, proto::tls_channel& tls,
                        proto::frame_reader& reader, const std::vector<char>& buf,
                        OnFrame on_frame, Alive alive) {
  std::vector<char> plain;
  bool ok = tls.read_ciphertext(buf.data(), buf.size(), plain);
  if (tls.take_ciphertext(self->wr_buf(hdl)) > 0)
    self->flush(hdl);
  if (!ok)
    return tls.error();
  auto step = reader.feed(plain);
  while (step == proto::frame_reader::step::frame) {
    on_frame();
    if (!alive())
      return "";
    std::vector<char> none;
    step = reader.feed(none);
  }
  return step == proto::frame_reader::step::error ? "bad frame from the peer" : "";
}

template <class Broker>
caf::io::connection_handle connect_with_hello(Broker* self, const std::string& host,
                                              uint16_t port, proto::hello_client& opening,
                                              proto::tls_channel* tls, std::string& err) {
  int fd = start_connect(host, port, err);
  if (fd < 0)
    return {};
  // typed_broker::add_tcp_scribe(fd) does not compile in CAF 0.17.6; add_scribe(fd) is
  // the same call on the base.
  auto hdl = self->add_scribe(fd);
  self->configure_read(hdl, tls != nullptr
                              ? caf::io::receive_policy::at_most(tls_read_max)
                              : caf::io::receive_policy::exactly(proto::frame_header_size));
  // Encrypted: the ClientHello first, the hello once the session stands.
  send_sealed(self, hdl, tls, opening.first_frame());
  return hdl;
}

} // namespace p2p
