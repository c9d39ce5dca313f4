// peer_server: the TCP broker other daemons download from.
//
// One broker owns the listening socket and every connection. Per connection it
// reads frames (protocol/frame.hpp), answers hello, catalog and manifest
// requests, and serves queued chunk requests in order. At most
// `max_buffered_chunks` chunks per connection sit in CAF's write buffers
// (tracked with data_transferred_msg), so memory is bounded by requests in
// flight, never by file size.
//
// The broker runs on CAF's I/O thread and never waits for the disk. A chunk
// in the page cache is read there with preadv2(RWF_NOWAIT) straight into the
// write buffer (no copy, no hop: the common case for a file just hashed or
// served). Any other read (the file's first on this connection: open and
// fstat; a chunk the kernel would have to fetch from the disk: EAGAIN; a
// kernel without RWF_NOWAIT) goes to the disk reader, a detached actor, and
// that connection serves nothing else until it answers, so chunks stay in
// request order.
//
// A plain (unencrypted) connection gets a chunk that is wholly in the page
// cache (cachestat(2)) without a copy in user space: once CAF's write buffer
// for it is empty, the frame header goes out with send(MSG_MORE) and the
// chunk's bytes with sendfile(2) from the share's file straight to the socket
// (see "zero-copy serving"). A chunk not in the cache is read once by the
// disk reader into its own scratch buffer, only to bring it into the page
// cache, and then sent the same way. --encrypt connections seal every byte
// and keep the copy path. The disk reader also asks the kernel to read ahead
// (posix_fadvise WILLNEED) the chunks queued behind the one it reads, so a
// file larger than the page cache is not read one chunk at a time.
#include "actors/actors.hpp"
#include "actors/broker_lifetime.hpp"
#include "actors/crash_hook.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/multiplexer.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/typed_broker.hpp>
#include <caf/stateful_actor.hpp>

#include <spdlog/spdlog.h>

#include "config/defaults.hpp"
#include "protocol/frame.hpp"
#include "protocol/hello_auth.hpp"
#include "protocol/tls_channel.hpp"
#include "storage/fs.hpp"
#include "util/net.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

using caf::io::connection_handle;

// Reads of an encrypted connection: whatever arrived, at most this much.
constexpr uint32_t tls_read_max = 256 * 1024;
// Reads of a plain connection: whatever arrived, at most this much; every
// whole frame in it is handled before the queue is served, so the requests
// a downloader sends together are queued together and go out as chunk runs.
constexpr uint32_t plain_read_max = 64 * 1024;
// Chunks per connection allowed in CAF's write buffers at once.
constexpr size_t max_buffered_chunks = 2;
// Frames a client sends are small; refuse anything larger early.
constexpr uint32_t max_request_payload = 128 * 1024;
constexpr auto rate_tick = std::chrono::milliseconds(defaults::upload_rate_tick_ms);
constexpr int64_t ticks_per_second = 1000 / defaults::upload_rate_tick_ms;

// An open file descriptor, closed when dropped.
class file_handle {
public:
  explicit file_handle(int fd = -1) : fd_(fd) {}
  file_handle(file_handle&& x) noexcept : fd_(x.fd_) { x.fd_ = -1; }
  file_handle& operator=(file_handle&& x) noexcept {
    std::swap(fd_, x.fd_);
    return *this;
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  ~file_handle() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const { return fd_; }
private:
  int fd_;
};

using disk_read_atom = caf::atom_constant<caf::atom("diskread")>;

struct chunk_request {
  std::string id_hex;
  uint32_t index = 0;
  bool warmed = false; // the disk reader has read it into the page cache once
};

// A chunk frame going out by send + sendfile, past CAF's write buffer: the
// header bytes not yet sent, then `left` bytes of `file` from `offset`.
struct direct_send {
  std::vector<char> header;
  size_t header_sent = 0;
  file_handle file; // the connection's share fd, duplicated (outlives c.files)
  uint64_t offset = 0;
  uint32_t left = 0;
};

struct connection {
  proto::frame_reader reader{max_request_payload};
  std::deque<chunk_request> queue;  // accepted, not yet written
  std::deque<uint64_t> chunk_ends;  // stream offsets where buffered chunks end
  uint64_t appended = 0;            // bytes put into the write buffer, total
  uint64_t written = 0;             // bytes the socket took, total
  std::unordered_map<std::string, file_handle> files; // by content id
  uint64_t remote_peer = 0;         // from its hello
  std::set<std::string> interested; // content ids it gets have frames for
  // The opening (protocol/hello_auth.hpp): keyed, the client proves the
  // network key before anything else is answered.
  std::optional<proto::hello_server> opening;
  std::unique_ptr<proto::tls_channel> tls; // --encrypt: every byte in and out
  std::optional<direct_send> direct; // a chunk half-sent by sendfile
  std::vector<char> after_direct;   // frames emitted meanwhile, sent after it
  bool failed = false;              // shut down by this side; closing
  bool greeted = false;             // hello received (keyed: the key proven)
  caf::actor_clock::time_point hello_due; // closed if not greeted by then
  bool reading = false;             // the disk reader has this connection's next chunk
  bool in_batch = false;            // handling the frames of one read: serve after
  uint64_t serial = 0;              // tells a later connection on the same handle apart
  std::string addr;                 // remote IP address (connection limits)
  std::string remote;               // "addr:port" for logs

  bool busy() const {
    return !queue.empty() || !chunk_ends.empty() || reading || direct.has_value();
  }
};

struct peer_server_state {
  static inline const char* name = "peer_server";

  config cfg;
  share_registry_actor registry;
  uint64_t peer_id = 0;
  uint16_t port = 0;
  std::string host_name;
  std::unordered_map<std::string, share_info> table; // by content id
  std::vector<share_info> offers; // every (name, content id) shared, for catalogs
  // The registry's catalog version of `offers` (its table's; 0 before the
  // first table): a conditional catalog request naming it is answered
  // catalog_same.
  uint32_t version = 0;
  std::map<connection_handle, connection> conns;
  uint64_t bytes_total = 0;
  uint64_t disk_reads = 0;   // reads handed to the disk reader
  uint64_t next_serial = 0;
  caf::actor disk_reader;    // detached; linked
  bool nowait = true;        // preadv2(RWF_NOWAIT) works here
  bool zero_copy = true;     // cachestat(2) works here: cached chunks go by sendfile
  uint64_t zero_copy_chunks = 0; // chunks sent by sendfile
  // Upload rate limiter (cfg.upload_rate_limit > 0): a token bucket that may
  // go into debt by one chunk, refilled every rate_tick.
  int64_t tokens = 0;
  connection_handle rr_last; // round-robin position of the limiter
  bool hello_timer = false;  // a timeout_atom is on its way (sweep_hello)

  bool limited() const { return cfg.upload_rate_limit > 0; }
};

using broker_ptr = peer_server_actor::stateful_broker_pointer<peer_server_state>;

uint32_t chunk_count(const share_info& s) {
  if (s.chunk_size == 0)
    return 0;
  return static_cast<uint32_t>((s.size + s.chunk_size - 1) / s.chunk_size);
}

// Bytes of chunk `index` (< chunk_count(s)): the chunk size, less for the last.
uint32_t chunk_length(const share_info& s, uint32_t index) {
  return static_cast<uint32_t>(
    std::min<uint64_t>(s.chunk_size, s.size - uint64_t{index} * s.chunk_size));
}

std::string id_to_hex(const proto::content_id& id) {
  return to_hex(id.data(), id.size());
}

// -- writing -------------------------------------------------------------------

// The one place the server writes an encrypted connection: the plaintext
// appended to the write buffer from `from` on is replaced by its TLS
// records (and any handshake bytes due). A no-op without --encrypt. Chunk
// data read into the buffer (serve) is sealed here too, so no path sends
// plaintext around it.
void seal(broker_ptr self, connection_handle hdl, connection& c, size_t from) {
  if (!c.tls)
    return;
  auto& buf = self->wr_buf(hdl);
  if (buf.size() > from)
    c.tls->write_plain(buf.data() + from, buf.size() - from);
  buf.resize(from);
  c.tls->take_ciphertext(buf);
}

// Appends to the connection's write buffer via `f(buf)` and flushes. While a
// chunk frame is half-sent by sendfile (zero-copy serving), the bytes wait in
// c.after_direct and follow that frame.
template <class F>
void emit(broker_ptr self, connection_handle hdl, connection& c, F f) {
  if (c.direct) {
    f(c.after_direct);
    return;
  }
  auto& buf = self->wr_buf(hdl);
  auto before = buf.size();
  f(buf);
  seal(self, hdl, c, before);
  c.appended += self->wr_buf(hdl).size() - before;
  self->flush(hdl);
}

void send_error(broker_ptr self, connection_handle hdl, connection& c,
                proto::error_code code, uint32_t index, std::string message) {
  spdlog::debug("peer_server: error {} to {}: {}", static_cast<int>(code), c.remote,
                message);
  proto::error_msg m{code, index, std::move(message)};
  emit(self, hdl, c, [&](std::vector<char>& buf) { proto::encode(buf, m); });
}

// Drops the connection's state and closes it (pending output is still sent).
void drop(broker_ptr self, connection_handle hdl) {
  self->state.conns.erase(hdl);
  self->close(hdl);
}

// -- limits (docs/protocol.md, "Limits") ----------------------------------------

// Chunk requests queued on all connections.
size_t queued_total(const peer_server_state& st) {
  size_t n = 0;
  for (auto& [hdl, c] : st.conns)
    n += c.queue.size();
  return n;
}

// Why a new connection from `addr` must be refused, or "" when it may stay.
std::string connection_refusal(const peer_server_state& st, const std::string& addr) {
  if (st.conns.size() >= st.cfg.max_connections)
    return "too many connections (" + std::to_string(st.cfg.max_connections) + ")";
  auto from_addr = std::count_if(st.conns.begin(), st.conns.end(),
                                 [&](auto& kv) { return kv.second.addr == addr; });
  if (static_cast<uint64_t>(from_addr) >= st.cfg.max_connections_per_addr)
    return "too many connections from " + addr + " ("
           + std::to_string(st.cfg.max_connections_per_addr) + ")";
  return "";
}

// Answers error(busy) on a connection that gets no state and closes it.
void refuse(broker_ptr self, connection_handle hdl, const std::string& why) {
  spdlog::debug("peer_server: refused a connection: {}", why);
  proto::encode(self->wr_buf(hdl), proto::error_msg{proto::error_code::busy, 0, why});
  self->flush(hdl);
  self->close(hdl);
}

void on_new_connection(broker_ptr self, connection_handle hdl) {
  auto& st = self->state;
  auto addr = self->remote_addr(hdl);
  if (auto why = connection_refusal(st, addr); !why.empty()) {
    refuse(self, hdl, why);
    return;
  }
  auto& c = st.conns[hdl];
  c.serial = ++st.next_serial;
  c.addr = addr;
  c.remote = addr + ":" + std::to_string(self->remote_port(hdl));
  c.opening.emplace(st.cfg.network, proto::hello_msg{st.peer_id, st.port, st.host_name});
  spdlog::debug("peer_server: connection from {}", c.remote);
  self->ack_writes(hdl, true);
  if (st.cfg.encrypt && st.cfg.network) {
    c.tls = std::make_unique<proto::tls_channel>(proto::tls_channel::role::server,
                                                 st.cfg.network->tls);
    self->configure_read(hdl, caf::io::receive_policy::at_most(tls_read_max));
  } else {
    self->configure_read(hdl, caf::io::receive_policy::at_most(plain_read_max));
  }
  c.hello_due = self->clock().now() + std::chrono::milliseconds(st.cfg.hello_timeout_ms);
  if (!st.hello_timer) {
    st.hello_timer = true;
    delayed_self_send(self, std::chrono::milliseconds(st.cfg.hello_timeout_ms),
                      timeout_atom::value);
  }
}

// The hello timer (timeout_atom): closes every connection whose hello is
// overdue with an error frame, and re-arms for the earliest deadline left.
void sweep_hello(broker_ptr self) {
  auto& st = self->state;
  st.hello_timer = false;
  auto now = self->clock().now();
  auto ms = std::to_string(st.cfg.hello_timeout_ms);
  std::vector<connection_handle> overdue;
  std::optional<caf::actor_clock::time_point> next;
  for (auto& [hdl, c] : st.conns) {
    if (c.greeted)
      continue;
    if (c.hello_due <= now)
      overdue.push_back(hdl);
    else if (!next || c.hello_due < *next)
      next = c.hello_due;
  }
  for (auto& hdl : overdue) {
    auto& c = st.conns.at(hdl);
    spdlog::debug("peer_server: no hello from {} within {} ms; closing", c.remote, ms);
    send_error(self, hdl, c, proto::error_code::bad_request, 0, "no hello within " + ms + " ms");
    drop(self, hdl);
  }
  if (next) {
    st.hello_timer = true;
    delayed_self_send(self, *next - now, timeout_atom::value);
  }
}

// -- serving chunks ------------------------------------------------------------

// Why the file behind `fd` is not the share that was hashed (size, and mtime
// unless it is a part file, which is written while it is served), as the
// error to answer; nullopt when it is. `fd` is open.
std::optional<std::pair<proto::error_code, std::string>>
file_mismatch(int fd, const std::string& name, uint64_t size, int64_t mtime_ns, bool partial) {
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return std::make_pair(proto::error_code::io, name + ": " + errno_text(errno));
  if (static_cast<uint64_t>(st.st_size) != size || (!partial && mtime_ns_of(st) != mtime_ns))
    return std::make_pair(proto::error_code::changed, name + ": changed on disk");
  return std::nullopt;
}

// Asks the kernel to read chunks at `offsets` (each `chunk_size` bytes, cut
// at `size`) of `fd` into the page cache in the background
// (posix_fadvise(WILLNEED) starts the reads and does not wait for them).
void read_ahead(int fd, const std::vector<uint64_t>& offsets, uint32_t chunk_size,
                uint64_t size) {
  for (auto off : offsets)
    if (off < size)
      ::posix_fadvise(fd, static_cast<off_t>(off),
                      static_cast<off_t>(std::min<uint64_t>(chunk_size, size - off)),
                      POSIX_FADV_WILLNEED);
}

// The disk reader's one request: chunk bytes [offset, offset + len) of the
// share at `path`, from `fd` (this actor's own duplicate, closed here) or,
// when fd is -1, from the file opened here and checked (file_mismatch);
// then read-ahead of the chunks at `ahead` (the connection's queue).
// `warm_only`: the bytes are read into a scratch buffer only, to bring them
// into the page cache for sendfile, and the answer's data is empty.
// Answers (fd it opened or -1, data, 0 or a proto::error_code, message).
using disk_answer = std::tuple<int, std::vector<char>, uint8_t, std::string>;

disk_answer read_from_disk(const std::string& path, const std::string& name, int fd,
                           uint64_t offset, uint32_t len, uint64_t size, int64_t mtime_ns,
                           bool partial, const std::vector<uint64_t>& ahead,
                           uint32_t chunk_size, bool warm_only) {
  auto failed = [&](proto::error_code code, std::string msg) {
    return disk_answer{-1, {}, static_cast<uint8_t>(code), std::move(msg)};
  };
  int opened = -1;
  if (fd < 0) {
    fd = opened = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      auto err = errno;
      return failed(err == ENOENT ? proto::error_code::changed : proto::error_code::io,
                    name + ": " + errno_text(err));
    }
    if (auto bad = file_mismatch(fd, name, size, mtime_ns, partial)) {
      ::close(fd);
      return failed(bad->first, bad->second);
    }
  }
  // The reader's own scratch buffer, reused (sized once, not zero-filled
  // again) when only warming the page cache.
  static thread_local std::vector<char> scratch;
  std::vector<char> data;
  auto& into = warm_only ? scratch : data;
  if (into.size() < len)
    into.resize(len);
  auto n = read_full_at(fd, into.data(), len, offset);
  if (n != static_cast<long>(len)) {
    auto err = n < 0 ? errno : 0;
    ::close(fd);
    return n < 0 ? failed(proto::error_code::io, name + ": " + errno_text(err))
                 : failed(proto::error_code::changed, name + ": changed on disk");
  }
  read_ahead(fd, ahead, chunk_size, size);
  if (opened < 0)
    ::close(fd); // the duplicate
  return disk_answer{opened, std::move(data), 0, std::string{}};
}

// `job` only names the actor in the log; a function actor needs an argument
// (see share_registry.cpp's hasher).
caf::behavior disk_reader(caf::event_based_actor*, uint16_t job) {
  spdlog::debug("peer_server: disk reader {} up", job);
  return {
    [](disk_read_atom, const std::string& path, const std::string& name, int fd,
       uint64_t offset, uint32_t len, uint64_t size, int64_t mtime_ns, bool partial,
       const std::vector<uint64_t>& ahead, uint32_t chunk_size, bool warm_only) {
      return read_from_disk(path, name, fd, offset, len, size, mtime_ns, partial, ahead,
                            chunk_size, warm_only);
    },
  };
}

void pump(broker_ptr self, connection_handle hdl, connection& c);

// A chunk frame of `len` data bytes now ends the write buffer (it starts at
// `base`): account for it and flush.
void chunk_appended(broker_ptr self, connection_handle hdl, connection& c, size_t base,
                    uint32_t len) {
  auto& st = self->state;
  seal(self, hdl, c, base);
  c.appended += self->wr_buf(hdl).size() - base;
  c.chunk_ends.push_back(c.appended);
  st.bytes_total += len;
  if (st.limited())
    st.tokens -= len;
  self->flush(hdl);
}

// Hands chunk `r` of share `s` to the disk reader (`fd`: a duplicate of the
// connection's open file, or -1 to open it there); the connection waits.
// `warm_only`: the reader only brings the chunk into the page cache, and `r`
// goes back to the front of the queue, marked warmed, for sendfile.
void read_on_disk_reader(broker_ptr self, connection_handle hdl, connection& c,
                         const share_info& s, const chunk_request& r, int fd,
                         uint64_t offset, uint32_t len, bool warm_only) {
  c.reading = true;
  ++self->state.disk_reads;
  auto serial = c.serial;
  auto id = s.id_hex;
  auto name = s.name;
  auto index = r.index;
  std::vector<uint64_t> ahead; // the queued chunks of the same file
  for (auto& q : c.queue)
    if (q.id_hex == id)
      ahead.push_back(uint64_t{q.index} * s.chunk_size);
  self->request(self->state.disk_reader, caf::infinite, disk_read_atom::value, s.path, s.name,
                fd, offset, len, s.size, s.mtime_ns, s.partial, std::move(ahead),
                s.chunk_size, warm_only)
    .then(
      [=](int opened, std::vector<char>& data, uint8_t code, std::string& message) {
        auto i = self->state.conns.find(hdl);
        if (i == self->state.conns.end() || i->second.serial != serial) {
          if (opened >= 0)
            ::close(opened); // the connection went meanwhile
          return;
        }
        auto& c = i->second;
        c.reading = false;
        if (opened >= 0)
          c.files[id] = file_handle{opened};
        if (code != 0) {
          c.files.erase(id);
          send_error(self, hdl, c, static_cast<proto::error_code>(code), index,
                     std::move(message));
        } else if (warm_only) {
          c.queue.push_front(chunk_request{id, index, true});
        } else {
          auto& buf = self->wr_buf(hdl);
          auto base = buf.size();
          proto::encode_chunk_header(buf, index, len);
          buf.insert(buf.end(), data.begin(), data.end());
          chunk_appended(self, hdl, c, base, len);
        }
        pump(self, hdl, c);
      },
      [=](const caf::error& err) {
        auto i = self->state.conns.find(hdl);
        if (i == self->state.conns.end() || i->second.serial != serial)
          return;
        i->second.reading = false;
        send_error(self, hdl, i->second, proto::error_code::io, index,
                   name + ": " + self->system().render(err));
        pump(self, hdl, i->second);
      });
}

// -- zero-copy serving ----------------------------------------------------------

// CAF 0.17 keeps a connection's socket inside its scribe (a protected member
// of the broker's scribe map, and of scribe_impl) and has no accessor; these
// two reach it, for sendfile, without changing either object.
struct broker_peek : caf::io::abstract_broker {
  static caf::io::scribe* scribe_of(caf::io::abstract_broker& b, connection_handle hdl) {
    using by_id_fn
      = caf::optional<caf::io::scribe&> (caf::io::abstract_broker::*)(connection_handle);
    by_id_fn by_id_of = &broker_peek::by_id<connection_handle>;
    auto found = (b.*by_id_of)(hdl);
    return found ? &*found : nullptr;
  }
};
struct scribe_peek : caf::io::network::scribe_impl {
  static int fd_of(caf::io::network::scribe_impl& s) {
    return (s.*(&scribe_peek::stream_)).fd();
  }
};

// The socket of `hdl`, or -1 when it is gone or not a default-multiplexer
// TCP scribe (e.g. CAF's test multiplexer).
int socket_of(broker_ptr self, connection_handle hdl) {
  auto* sc = broker_peek::scribe_of(*self, hdl);
  auto* impl = dynamic_cast<caf::io::network::scribe_impl*>(sc);
  return impl ? scribe_peek::fd_of(*impl) : -1;
}

// True when every byte put into CAF's write buffer has reached the socket, so
// bytes written to the socket directly now follow them in order.
bool drained(broker_ptr self, connection_handle hdl, const connection& c) {
  return c.written == c.appended && self->wr_buf(hdl).empty();
}

// Ends a connection this side cannot continue (a chunk frame cut short): the
// socket is shut down, so CAF reports it closed (connection_closed_msg drops
// the state) without this code erasing a connection its callers still hold.
void fail_connection(broker_ptr self, connection_handle hdl, connection& c, int sock,
                     const std::string& why) {
  spdlog::info("peer_server: closing {}: {}", c.remote, why);
  c.failed = true;
  c.queue.clear();
  c.direct.reset();
  if (sock >= 0)
    ::shutdown(sock, SHUT_RDWR);
}

// Sends what is left of c.direct. Returns true when the whole chunk frame is
// out; false when the socket is full (one next byte then goes through CAF's
// write buffer, whose data_transferred_msg, once the socket took it, calls
// pump again) or the connection failed.
bool push_direct(broker_ptr self, connection_handle hdl, connection& c) {
  auto sock = socket_of(self, hdl);
  if (sock < 0) {
    fail_connection(self, hdl, c, -1, "socket gone while sending a chunk");
    return false;
  }
  auto& d = *c.direct;
  bool full = false;
  while (!full && d.header_sent < d.header.size()) {
    auto n = ::send(sock, d.header.data() + d.header_sent, d.header.size() - d.header_sent,
                    MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      full = true;
      break;
    }
    if (n <= 0) {
      fail_connection(self, hdl, c, sock, "send: " + errno_text(errno));
      return false;
    }
    d.header_sent += static_cast<size_t>(n);
  }
  while (!full && d.left > 0) {
    auto off = static_cast<off_t>(d.offset);
    auto n = ::sendfile(sock, d.file.get(), &off, d.left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      full = true;
      break;
    }
    if (n < 0) {
      fail_connection(self, hdl, c, sock, "sendfile: " + errno_text(errno));
      return false;
    }
    if (n == 0) { // the file shrank under a frame whose length is already sent
      fail_connection(self, hdl, c, sock, "file changed on disk while sending a chunk");
      return false;
    }
    d.offset += static_cast<uint64_t>(n);
    d.left -= static_cast<uint32_t>(n);
  }
  if (!full) {
    c.direct.reset();
    if (!c.after_direct.empty()) {
      auto& buf = self->wr_buf(hdl);
      buf.insert(buf.end(), c.after_direct.begin(), c.after_direct.end());
      c.appended += c.after_direct.size();
      c.after_direct.clear();
      self->flush(hdl);
    }
    return true;
  }
  // The socket is full. CAF learns when it has room again: hand it the next
  // byte of the frame, and go on when it reports that byte written.
  char next = 0;
  if (d.header_sent < d.header.size()) {
    next = d.header[d.header_sent++];
  } else if (read_full_at(d.file.get(), &next, 1, d.offset) == 1) {
    ++d.offset;
    --d.left;
  } else {
    fail_connection(self, hdl, c, sock, "file changed on disk while sending a chunk");
    return false;
  }
  self->wr_buf(hdl).push_back(next);
  ++c.appended;
  self->flush(hdl);
  return false;
}

// Starts chunks first .. first + count - 1 (`len` bytes at `offset` of the
// open share `fd`) as a direct send on a drained plain connection: a chunk
// frame for one chunk, a chunk_run frame for more. False when the file cannot
// be duplicated (the caller then copies it).
bool start_direct(broker_ptr self, connection_handle hdl, connection& c, int fd,
                  uint32_t first, uint32_t count, uint64_t offset, uint32_t len) {
  int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0)
    return false;
  auto& st = self->state;
  c.direct.emplace();
  c.direct->file = file_handle{own};
  if (count == 1)
    proto::encode_chunk_header(c.direct->header, first, len);
  else
    proto::encode_chunk_run_header(c.direct->header, first, count, len);
  c.direct->offset = offset;
  c.direct->left = len;
  st.zero_copy_chunks += count;
  st.bytes_total += len;
  if (st.limited())
    st.tokens -= len;
  push_direct(self, hdl, c);
  return true;
}

// What serve did with a request.
enum class served { done, wait };

// The chunks queued right behind request `r` (`len` bytes) that continue it:
// the same content id, the next indexes in order. They go out with `r` as one
// chunk run of `count` chunks (counting r) and `bytes` bytes, at most
// proto::max_run_chunks and defaults::max_run_bytes (docs/protocol.md,
// "Chunk runs"). Never under an upload rate limit,
// whose bucket may go into debt by one chunk only.
struct run_extent {
  uint32_t count = 1;
  uint64_t bytes = 0;
};

run_extent run_behind(const peer_server_state& st, const connection& c, const share_info& s,
                      const chunk_request& r, uint32_t len) {
  run_extent run{1, len};
  if (st.limited())
    return run;
  auto chunks = chunk_count(s);
  for (auto& q : c.queue) {
    auto next = r.index + run.count;
    if (run.count >= proto::max_run_chunks || next >= chunks || q.index != next
        || q.id_hex != r.id_hex)
      break;
    auto n = chunk_length(s, next);
    if (run.bytes + n > defaults::max_run_bytes)
      break;
    ++run.count;
    run.bytes += n;
  }
  return run;
}

// Sends chunk `r` by sendfile (plain connection, chunk in the page cache),
// writes it (header + data) into the write buffer from the page cache, hands
// it to the disk reader, or writes an error frame. `wait`: it goes by
// sendfile but CAF's write buffer is not empty yet; ask again when it is.
served serve(broker_ptr self, connection_handle hdl, connection& c,
             const chunk_request& r) {
  auto& st = self->state;
  auto si = st.table.find(r.id_hex);
  if (si == st.table.end()) {
    send_error(self, hdl, c, proto::error_code::unknown_file, r.index,
               "not shared: " + r.id_hex);
    return served::done;
  }
  const auto& s = si->second;
  if (r.index >= chunk_count(s)) {
    send_error(self, hdl, c, proto::error_code::bad_index, r.index,
               "no chunk " + std::to_string(r.index));
    return served::done;
  }
  uint64_t offset = uint64_t{r.index} * s.chunk_size;
  auto len = chunk_length(s, r.index);
  auto fi = c.files.find(s.id_hex);
  // Plain connections take cached chunks by sendfile: a chunk not cached is
  // only brought into the page cache by the disk reader, once (a chunk
  // evicted again before it is sent is copied, below).
  bool zero_copy = !c.tls && st.zero_copy;
  if (fi == c.files.end()) {
    read_on_disk_reader(self, hdl, c, s, r, -1, offset, len, zero_copy && !r.warmed);
    return served::done;
  }
  int fd = fi->second.get();
  if (auto bad = file_mismatch(fd, s.name, s.size, s.mtime_ns, s.partial)) {
    c.files.erase(fi);
    send_error(self, hdl, c, bad->first, r.index, bad->second);
    return served::done;
  }
  if (zero_copy) {
    auto cached = page_cache_holds(fd, offset, len);
    if (!cached) {
      spdlog::info("peer_server: cachestat(2) unsupported here ({}); chunks are copied "
                   "into the write buffer",
                   errno_text(errno));
      st.zero_copy = false;
    } else if (*cached) {
      if (!drained(self, hdl, c))
        return served::wait;
      // The requests behind it for the next chunks go along as one chunk run
      // when their bytes are cached too.
      auto run = run_behind(st, c, s, r, len);
      if (run.count > 1 && page_cache_holds(fd, offset, run.bytes).value_or(false)
          && start_direct(self, hdl, c, fd, r.index, run.count, offset,
                          static_cast<uint32_t>(run.bytes))) {
        // A send that failed at once (the peer reset the connection) ended
        // the connection and emptied its queue already.
        if (!c.failed)
          c.queue.erase(c.queue.begin(), c.queue.begin() + (run.count - 1));
        return served::done;
      }
      if (start_direct(self, hdl, c, fd, r.index, 1, offset, len))
        return served::done;
    } else if (!r.warmed) {
      read_on_disk_reader(self, hdl, c, s, r, ::dup(fd), offset, len, true);
      return served::done;
    }
  }
  if (!st.nowait) {
    read_on_disk_reader(self, hdl, c, s, r, ::dup(fd), offset, len, false);
    return served::done;
  }
  auto& buf = self->wr_buf(hdl);
  auto base = buf.size();
  proto::encode_chunk_header(buf, r.index, len);
  auto data_at = buf.size();
  buf.resize(data_at + len);
  size_t got = 0;
  while (got < len) {
    iovec v{buf.data() + data_at + got, len - got};
    auto n = ::preadv2(fd, &v, 1, static_cast<off_t>(offset + got), RWF_NOWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    auto err = n < 0 ? errno : 0;
    buf.resize(base);
    if (n < 0 && (err == EAGAIN || err == EOPNOTSUPP || err == EINVAL || err == ENOSYS)) {
      if (err != EAGAIN) {
        spdlog::info("peer_server: preadv2(RWF_NOWAIT) unsupported here ({}); every chunk "
                     "read goes to the disk reader",
                     errno_text(err));
        st.nowait = false;
      }
      // Not in the page cache (or cannot tell): read on the disk reader.
      read_on_disk_reader(self, hdl, c, s, r, ::dup(fd), offset, len, false);
      return served::done;
    }
    c.files.erase(s.id_hex);
    if (n < 0)
      send_error(self, hdl, c, proto::error_code::io, r.index,
                 s.name + ": " + errno_text(err));
    else
      send_error(self, hdl, c, proto::error_code::changed, r.index,
                 s.name + ": changed on disk");
    return served::done;
  }
  chunk_appended(self, hdl, c, base, len);
  spdlog::trace("peer_server: chunk {} of {} to {}", r.index, s.name, c.remote);
  return served::done;
}

// Serves queued requests while the connection has room in its write buffer
// (and the rate limiter has tokens).
// A chunk half-sent by sendfile goes on first, once CAF's buffer is empty.
void pump(broker_ptr self, connection_handle hdl, connection& c) {
  auto& st = self->state;
  if (c.failed)
    return;
  if (c.direct && (!drained(self, hdl, c) || !push_direct(self, hdl, c)))
    return;
  while (!c.reading && !c.direct && !c.failed && !c.queue.empty()
         && c.chunk_ends.size() < max_buffered_chunks) {
    if (st.limited() && st.tokens <= 0)
      return;
    auto r = std::move(c.queue.front());
    c.queue.pop_front();
    if (serve(self, hdl, c, r) == served::wait) {
      c.queue.push_front(std::move(r));
      return;
    }
  }
}

// -- frames --------------------------------------------------------------------

// The opening's frames (hello, or the keyed challenge-response), and with a
// network key every frame until the key is proven. Returns false when the
// connection must be closed (the reason sent as an error frame and logged
// once, at info when a key is involved: a neighbour outside the swarm).
bool on_opening(broker_ptr self, connection_handle hdl, connection& c) {
  auto& hdr = c.reader.header();
  std::vector<char> reply;
  auto verdict = c.opening->on_frame(hdr.type, c.reader.payload(), reply);
  if (verdict == proto::hello_server::verdict::refused) {
    if (self->state.cfg.network || hdr.type == proto::frame_type::auth_hello)
      spdlog::info("peer_server: refused {}: {}", c.remote, c.opening->reason());
    else
      spdlog::debug("peer_server: refused {}: {}", c.remote, c.opening->reason());
    send_error(self, hdl, c, proto::error_code::bad_request, 0, c.opening->reason());
    return false;
  }
  if (!reply.empty())
    emit(self, hdl, c, [&](std::vector<char>& buf) {
      buf.insert(buf.end(), reply.begin(), reply.end());
    });
  if (c.opening->accepted() && !c.greeted) {
    c.greeted = true;
    c.remote_peer = c.opening->client().peer_id;
    spdlog::debug("peer_server: hello from {:016x} ({}) at {}{}", c.remote_peer,
                  c.opening->client().name, c.remote,
                  self->state.cfg.network ? ", network key proven" : "");
  }
  return true;
}

// A catalog request: plain (`conditional` false) gets the files as always;
// a conditional one gets catalog_same when `known` is the current version,
// else the files and the version.
void on_catalog_req(broker_ptr self, connection_handle hdl, connection& c, bool conditional,
                    uint32_t known) {
  auto version = self->state.version;
  if (conditional && version != 0 && known == version) {
    emit(self, hdl, c, [&](std::vector<char>& buf) {
      proto::encode(buf, proto::catalog_same_msg{version});
    });
    return;
  }
  proto::catalog_msg m;
  if (conditional)
    m.version = version;
  m.files.reserve(self->state.offers.size());
  for (auto& s : self->state.offers) {
    auto cid = proto::content_id_from_hex(s.id_hex);
    if (!cid)
      continue;
    proto::catalog_entry e;
    e.id = *cid;
    e.size = s.size;
    e.name = s.name;
    m.files.push_back(std::move(e));
  }
  std::sort(m.files.begin(), m.files.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  emit(self, hdl, c, [&](std::vector<char>& buf) { proto::encode(buf, m); });
}

void on_manifest_req(broker_ptr self, connection_handle hdl, connection& c,
                     const proto::manifest_req_msg& m) {
  auto id = id_to_hex(m.id);
  if (self->state.table.count(id) == 0 || !self->state.registry) {
    send_error(self, hdl, c, proto::error_code::unknown_file, 0, "not shared: " + id);
    return;
  }
  // No timeout: the registry answers from memory, and a dead one bounces the
  // request with an error. CAF 0.17.6 never cancels a request's timeout when
  // the response arrives (simple_actor_clock has no caller of
  // cancel_request_timeout), so each one woke the I/O thread 10 s later for
  // nothing: ~50 a second on a seeder after a burst of 1,000 small downloads.
  self->request(self->state.registry, caf::infinite, manifest_atom::value, id)
    .then(
      [=](std::vector<char>& bytes) {
        auto i = self->state.conns.find(hdl);
        if (i == self->state.conns.end())
          return;
        emit(self, hdl, i->second, [&](std::vector<char>& buf) {
          proto::encode_manifest(buf, bytes);
        });
      },
      [=](caf::error&) {
        auto i = self->state.conns.find(hdl);
        if (i == self->state.conns.end())
          return;
        send_error(self, hdl, i->second, proto::error_code::unknown_file, 0,
                   "not shared: " + id);
      });
}

void on_chunk_req(broker_ptr self, connection_handle hdl, connection& c,
                  const proto::chunk_req_msg& m) {
  auto& st = self->state;
  auto id = id_to_hex(m.id);
  auto si = st.table.find(id);
  if (si == st.table.end()) {
    send_error(self, hdl, c, proto::error_code::unknown_file, m.index,
               "not shared: " + id);
    return;
  }
  if (m.index >= chunk_count(si->second)) {
    send_error(self, hdl, c, proto::error_code::bad_index, m.index,
               "no chunk " + std::to_string(m.index) + " in " + si->second.name);
    return;
  }
  if (si->second.partial && !si->second.have[m.index]) {
    send_error(self, hdl, c, proto::error_code::not_have, m.index,
               "chunk " + std::to_string(m.index) + " not verified here yet");
    return;
  }
  if (c.queue.size() >= defaults::server_requests_per_conn) {
    send_error(self, hdl, c, proto::error_code::busy, m.index,
               "too many requests in flight");
    return;
  }
  if (queued_total(st) >= defaults::server_requests_total) {
    send_error(self, hdl, c, proto::error_code::busy, m.index,
               "too many requests in flight on this server");
    return;
  }
  c.queue.push_back(chunk_request{std::move(id), m.index});
  if (!c.in_batch)
    pump(self, hdl, c);
}

// Answers the chunks this peer has of a content id (all for a share, the
// verified ones for a partial offer) and sends have frames from now on.
void on_interested(broker_ptr self, connection_handle hdl, connection& c,
                   const proto::interested_msg& m) {
  auto& st = self->state;
  auto id = id_to_hex(m.id);
  auto si = st.table.find(id);
  if (si == st.table.end()) {
    send_error(self, hdl, c, proto::error_code::unknown_file, 0, "not shared: " + id);
    return;
  }
  if (c.interested.count(id) == 0
      && c.interested.size() >= defaults::server_interests_per_conn) {
    send_error(self, hdl, c, proto::error_code::busy, 0,
               "too many content ids on this connection");
    return;
  }
  c.interested.insert(id);
  proto::bitfield_msg b{m.id, {}};
  if (si->second.partial)
    b.bits = si->second.have;
  else
    b.bits.assign(chunk_count(si->second), true);
  emit(self, hdl, c, [&](std::vector<char>& buf) { proto::encode(buf, b); });
}

// A partial offer verified chunk `index`: serve it from now on, tell the
// interested connections.
void on_have(broker_ptr self, const std::string& id, uint32_t index) {
  auto& st = self->state;
  auto si = st.table.find(id);
  if (si == st.table.end() || !si->second.partial || index >= si->second.have.size())
    return;
  si->second.have[index] = true;
  auto cid = proto::content_id_from_hex(id);
  if (!cid)
    return;
  for (auto& [hdl, c] : st.conns)
    if (c.interested.count(id) > 0)
      emit(self, hdl, c, [&](std::vector<char>& buf) {
        proto::encode(buf, proto::have_msg{*cid, index});
      });
}

void on_cancel(connection& c, const proto::chunk_req_msg& m) {
  auto id = id_to_hex(m.id);
  auto i = std::find_if(c.queue.begin(), c.queue.end(), [&](const chunk_request& r) {
    return r.index == m.index && r.id_hex == id;
  });
  if (i != c.queue.end())
    c.queue.erase(i);
}

// Handles one whole frame. Returns false when the connection must be closed.
bool on_frame(broker_ptr self, connection_handle hdl, connection& c) {
  auto& hdr = c.reader.header();
  auto& payload = c.reader.payload();
  const char* p = payload.data();
  size_t n = hdr.length;
  auto malformed = [&] {
    send_error(self, hdl, c, proto::error_code::bad_request, 0,
               "malformed " + proto::to_string(hdr.type) + " frame");
    return false;
  };
  // Keyless, requests before a hello are served as they always were.
  if (!c.greeted && self->state.cfg.network)
    return on_opening(self, hdl, c);
  switch (hdr.type) {
    case proto::frame_type::hello:
    case proto::frame_type::auth_hello:
    case proto::frame_type::auth_proof:
      return on_opening(self, hdl, c);
    case proto::frame_type::catalog_req: {
      bool conditional = false;
      uint32_t known = 0;
      if (!proto::decode_catalog_req(p, n, conditional, known))
        return malformed();
      on_catalog_req(self, hdl, c, conditional, known);
      return true;
    }
    case proto::frame_type::manifest_req: {
      proto::manifest_req_msg m;
      if (!proto::decode(p, n, m))
        return malformed();
      on_manifest_req(self, hdl, c, m);
      return true;
    }
    case proto::frame_type::chunk_req: {
      proto::chunk_req_msg m;
      if (!proto::decode(p, n, m))
        return malformed();
      on_chunk_req(self, hdl, c, m);
      return true;
    }
    case proto::frame_type::interested: {
      proto::interested_msg m;
      if (!proto::decode(p, n, m))
        return malformed();
      on_interested(self, hdl, c, m);
      return true;
    }
    case proto::frame_type::cancel: {
      proto::chunk_req_msg m;
      if (!proto::decode(p, n, m))
        return malformed();
      on_cancel(c, m);
      return true;
    }
    default:
      send_error(self, hdl, c, proto::error_code::bad_request, 0,
                 "unexpected " + proto::to_string(hdr.type) + " frame");
      return false;
  }
}

// Acts on what the frame reader made of the bytes so far. False when the
// connection was dropped.
bool on_step(broker_ptr self, connection_handle hdl, connection& c,
             proto::frame_reader::step step) {
  switch (step) {
    case proto::frame_reader::step::more:
      return true;
    case proto::frame_reader::step::error: {
      auto what = c.reader.error() == proto::header_status::oversize ? "oversize frame"
                  : c.reader.error() == proto::header_status::bad_version
                    ? "unsupported protocol version"
                    : "unknown frame type";
      spdlog::debug("peer_server: {} from {}; closing", what, c.remote);
      if (c.reader.error() == proto::header_status::bad_version) {
        // An old peer's first frame: refused in its own layout where we can,
        // so it logs why (a peer that said hello in ours gets ours).
        auto v = c.remote_peer == 0 ? c.reader.peer_version() : proto::protocol_version;
        auto msg = "unsupported protocol version " + std::to_string(v) + "; this peer speaks "
                   + std::to_string(proto::protocol_version);
        emit(self, hdl, c, [&](std::vector<char>& buf) { proto::encode_refusal(buf, v, msg); });
      } else {
        send_error(self, hdl, c, proto::error_code::bad_request, 0, what);
      }
      drop(self, hdl);
      return false;
    }
    case proto::frame_reader::step::frame:
      if (!on_frame(self, hdl, c)) {
        drop(self, hdl);
        return false;
      }
      return true;
  }
  return true;
}

// The one place the server reads an encrypted connection: decrypts, answers
// the handshake, and handles every whole frame the plaintext completes. A
// peer without --encrypt (or with another key) is told in plain why and
// dropped.
void on_sealed_data(broker_ptr self, connection_handle hdl, connection& c,
                    const std::vector<char>& buf) {
  std::vector<char> plain;
  bool ok = c.tls->read_ciphertext(buf.data(), buf.size(), plain);
  emit(self, hdl, c, [](std::vector<char>&) {}); // the handshake's answer, if any
  if (!ok) {
    spdlog::info("peer_server: refused {}: {}", c.remote, c.tls->error());
    if (c.tls->peer_is_plain()) {
      proto::encode(self->wr_buf(hdl),
                    proto::error_msg{proto::error_code::bad_request, 0,
                                     "this daemon runs --encrypt; the peer does not"});
      self->flush(hdl);
    }
    drop(self, hdl);
    return;
  }
  auto step = c.reader.feed(plain);
  while (on_step(self, hdl, c, step) && step == proto::frame_reader::step::frame) {
    std::vector<char> none;
    step = c.reader.feed(none);
  }
}

void on_data(broker_ptr self, caf::io::new_data_msg& msg) {
  auto hdl = msg.handle;
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return;
  auto& c = i->second;
  if (c.tls)
    return on_sealed_data(self, hdl, c, msg.buf);
  // Every whole frame of this read first, then the queue is served once.
  c.in_batch = true;
  auto step = c.reader.feed(msg.buf);
  while (on_step(self, hdl, c, step) && step == proto::frame_reader::step::frame) {
    std::vector<char> none;
    step = c.reader.feed(none);
  }
  // on_step drops (erases) the connection when it must close: look it up.
  i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return;
  i->second.in_batch = false;
  pump(self, hdl, i->second);
}

// -- share table ---------------------------------------------------------------

void on_shares(broker_ptr self, std::vector<share_info>& shares, uint32_t version) {
  auto& st = self->state;
  st.version = version;
  std::unordered_map<std::string, share_info> next;
  for (auto& s : shares)
    next.emplace(s.id_hex, s); // one file per content id serves its chunks
  st.offers = std::move(shares);
  // Close cached files of shares that went away or changed.
  auto same = [&](const std::string& id) {
    auto a = st.table.find(id);
    auto b = next.find(id);
    return a != st.table.end() && b != next.end() && a->second.path == b->second.path
           && a->second.size == b->second.size
           && a->second.mtime_ns == b->second.mtime_ns;
  };
  for (auto& [hdl, c] : st.conns) {
    for (auto it = c.files.begin(); it != c.files.end();) {
      if (!same(it->first))
        it = c.files.erase(it);
      else
        ++it;
    }
  }
  st.table = std::move(next);
  spdlog::debug("peer_server: serving {} shares", st.table.size());
}

// One share added ahead of the table that lists it (a completed download:
// share_registry's withdraw): served from now on; it replaces the partial
// offer of its content id (whose part file was renamed into it), and joins
// the offers catalogs get. A full share of that content id already served
// from another path stays the one that serves it; one at the same path (the
// same content downloaded over it) is replaced: its file is the new one.
void on_share(broker_ptr self, share_info& s) {
  auto& st = self->state;
  auto& offers = st.offers;
  offers.erase(std::remove_if(offers.begin(), offers.end(),
                              [&](const share_info& o) {
                                return o.id_hex == s.id_hex && (o.partial || o.path == s.path);
                              }),
               offers.end());
  offers.push_back(s);
  auto i = st.table.find(s.id_hex);
  if (i != st.table.end() && !i->second.partial && i->second.path != s.path)
    return;
  for (auto& [hdl, c] : st.conns)
    c.files.erase(s.id_hex); // the part file's descriptor
  st.table[s.id_hex] = std::move(s);
}

peer_server_actor::behavior_type
peer_server(broker_ptr self, caf::io::doorman_ptr door, config cfg,
            share_registry_actor registry, uint64_t peer_id, uint16_t port) {
  arm_crash_hook(self);
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.registry = registry;
  st.peer_id = peer_id;
  st.port = port;
  st.host_name = local_host_name();
  // Linked: it ends with the broker, and the broker (so the daemon, see
  // supervision) with it.
  st.disk_reader = self->spawn<caf::detached + caf::linked>(disk_reader, uint16_t{1});
  defer_exit(self); // broker_lifetime.hpp: the doorman added here
  self->add_doorman(std::move(door));
  if (registry)
    self->send(registry, subscribe_atom::value,
               caf::actor_cast<shares_listener_actor>(self));
  if (st.limited())
    delayed_self_send(self, rate_tick, tick_atom::value);
  spdlog::info("peer_server listening on port {}", port);
  return {
    [=](caf::io::new_connection_msg& msg) { on_new_connection(self, msg.handle); },
    [=](caf::io::new_data_msg& msg) { on_data(self, msg); },
    [=](caf::io::connection_closed_msg& msg) {
      auto i = self->state.conns.find(msg.handle);
      if (i != self->state.conns.end()) {
        spdlog::debug("peer_server: {} disconnected", i->second.remote);
        self->state.conns.erase(i);
      }
    },
    [=](caf::io::acceptor_closed_msg&) {
      spdlog::warn("peer_server: listening socket closed");
    },
    [=](caf::io::data_transferred_msg& msg) {
      auto i = self->state.conns.find(msg.handle);
      if (i == self->state.conns.end())
        return;
      auto& c = i->second;
      c.written += msg.written;
      while (!c.chunk_ends.empty() && c.chunk_ends.front() <= c.written)
        c.chunk_ends.pop_front();
      pump(self, msg.handle, c);
    },
    [=](shares_atom, std::vector<share_info>& shares, uint32_t version) {
      on_shares(self, shares, version);
    },
    [=](share_atom, share_info& s) { on_share(self, s); },
    [=](have_atom, const std::string& id, uint32_t index) { on_have(self, id, index); },
    [=](timeout_atom) { sweep_hello(self); },
    [=](uploads_atom) {
      upload_stats out;
      out.bytes_total = self->state.bytes_total;
      out.disk_reads = self->state.disk_reads;
      out.zero_copy_chunks = self->state.zero_copy_chunks;
      for (auto& [hdl, c] : self->state.conns)
        if (c.busy())
          ++out.active;
      return out;
    },
    [=](tick_atom) {
      auto& st = self->state;
      if (!st.limited())
        return;
      // Only the self-scheduled tick (anonymous) re-arms the timer.
      if (!self->current_sender())
        delayed_self_send(self, rate_tick, tick_atom::value);
      auto per_tick = std::max<int64_t>(1, static_cast<int64_t>(st.cfg.upload_rate_limit)
                                             / ticks_per_second);
      st.tokens = std::min(st.tokens + per_tick, per_tick);
      // Serve waiting connections round-robin, starting after the one served
      // first last time, so no connection starves under a tight limit.
      if (st.conns.empty())
        return;
      auto start = st.conns.upper_bound(st.rr_last);
      if (start == st.conns.end())
        start = st.conns.begin();
      auto it = start;
      do {
        if (st.tokens <= 0)
          break;
        if (!it->second.queue.empty()) {
          st.rr_last = it->first;
          pump(self, it->first, it->second);
        }
        if (++it == st.conns.end())
          it = st.conns.begin();
      } while (it != start);
    },
  };
}

} // namespace

caf::expected<peer_server_actor> spawn_peer_server(caf::actor_system& sys,
                                                   const config& cfg,
                                                   share_registry_actor registry,
                                                   uint64_t peer_id,
                                                   uint16_t& bound_port) {
  // sendfile(2) to a socket the peer closed raises SIGPIPE (send() takes
  // MSG_NOSIGNAL, sendfile has no such flag): the error must come back as EPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  auto& mm = sys.middleman();
  // Open the listening socket here, so a bind failure reaches the caller; the
  // broker adopts it (what add_tcp_doorman(port, "0.0.0.0", true) does inside).
  auto door = mm.backend().new_tcp_doorman(cfg.peer_port, "0.0.0.0", true);
  if (!door)
    return make_error(ec::io_error, "cannot listen on 0.0.0.0:"
                                      + std::to_string(cfg.peer_port) + ": "
                                      + sys.render(door.error()));
  bound_port = (*door)->port();
  return mm.spawn_broker(peer_server, std::move(*door), cfg, std::move(registry),
                         peer_id, bound_port);
}

} // namespace p2p
