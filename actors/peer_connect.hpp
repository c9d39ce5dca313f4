#pragma once
// The client side of the peer protocol's opening, shared by the brokers that
// dial a peer_server (range_fetcher, peer_query).
#include <string>
#include <vector>

#include <caf/io/connection_handle.hpp>
#include <caf/io/receive_policy.hpp>

#include "protocol/frame.hpp"
#include "protocol/hello_auth.hpp"
#include "util/net.hpp"

namespace p2p {

// Starts a non-blocking connect to host:port, hands the socket to `self`'s
// multiplexer, asks for the first frame header and sends the opening's first
// frame (`opening`: hello, or auth_hello with a network key; the hello names
// this host: util/net.hpp local_host_name). Returns the connection, or
// a default handle with `err` set ("" when the cause is unknown). A connect
// that fails later arrives as connection_closed_msg.
template <class Broker>
caf::io::connection_handle connect_with_hello(Broker* self, const std::string& host,
                                              uint16_t port, proto::hello_client& opening,
                                              std::string& err) {
  int fd = start_connect(host, port, err);
  if (fd < 0)
    return {};
  // typed_broker::add_tcp_scribe(fd) does not compile in CAF 0.17.6; add_scribe(fd) is
  // the same call on the base.
  auto hdl = self->add_scribe(fd);
  self->configure_read(hdl, caf::io::receive_policy::exactly(proto::frame_header_size));
  auto frame = opening.first_frame();
  self->write(hdl, frame.size(), frame.data());
  self->flush(hdl);
  return hdl;
}

} // namespace p2p
