#pragma once
// Test helpers for actor tests that talk to a peer_server: a fake
// peer_server on plain POSIX sockets (its own thread) speaking the frame
// protocol. The actor system, eventually() etc. are in
// tests/support/actor_env.hpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/frame.hpp"
#include "storage/manifest.hpp"
#include "tests/support/socket_client.hpp"
#include "util/hex.hpp"

namespace p2p::test {

// A content id whose bytes are all `b`.
inline proto::content_id fake_id(uint8_t b) {
  proto::content_id id;
  id.fill(b);
  return id;
}

inline std::string hex_of(const proto::content_id& id) {
  return to_hex(id.data(), id.size());
}

class fake_peer_server {
public:
  enum class mode {
    normal,      // answers hello, catalog and manifest requests
    silent,      // accepts, reads, never answers
    close_at_once, // accepts and closes
  };

  explicit fake_peer_server(uint64_t peer_id) : peer_id_(peer_id) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~fake_peer_server() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }

  void set_mode(mode m) { mode_ = m; }

  void set_files(std::vector<proto::catalog_entry> files) {
    std::lock_guard<std::mutex> guard{mtx_};
    files_ = std::move(files);
  }

  // Serves `bytes` for a manifest request of `id` (they need not match).
  void set_manifest(const proto::content_id& id, std::vector<char> bytes) {
    std::lock_guard<std::mutex> guard{mtx_};
    manifests_[id] = std::move(bytes);
  }

  int connections() const { return connections_; }
  uint64_t last_hello_id() const { return last_hello_id_; }

private:
  // Reads exactly n bytes; false on close, error or stop.
  bool read_exact(int fd, char* p, size_t n) {
    while (n > 0) {
      pollfd pfd{fd, POLLIN, 0};
      int rc = ::poll(&pfd, 1, 50);
      if (stop_)
        return false;
      if (rc <= 0)
        continue;
      auto got = ::recv(fd, p, n, 0);
      if (got <= 0)
        return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  void serve(int fd) {
    for (;;) {
      char hdr_buf[proto::frame_header_size];
      if (!read_exact(fd, hdr_buf, sizeof(hdr_buf)))
        return;
      proto::frame_header hdr;
      if (proto::decode_header(hdr_buf, hdr) != proto::header_status::ok)
        return;
      std::vector<char> payload(hdr.length);
      if (hdr.length > 0 && !read_exact(fd, payload.data(), payload.size()))
        return;
      if (mode_ == mode::silent)
        continue;
      std::vector<char> out;
      switch (hdr.type) {
        case proto::frame_type::hello: {
          proto::hello_msg hello;
          if (proto::decode(payload.data(), payload.size(), hello))
            last_hello_id_ = hello.peer_id;
          proto::encode(out, proto::hello_msg{peer_id_, port_, "fake"}, true);
          break;
        }
        case proto::frame_type::catalog_req: {
          std::lock_guard<std::mutex> guard{mtx_};
          proto::encode(out, proto::catalog_msg{files_});
          break;
        }
        case proto::frame_type::manifest_req: {
          proto::manifest_req_msg req;
          proto::decode(payload.data(), payload.size(), req);
          std::lock_guard<std::mutex> guard{mtx_};
          auto it = manifests_.find(req.id);
          if (it == manifests_.end())
            proto::encode(out, proto::error_msg{proto::error_code::unknown_file, 0,
                                                "unknown content id"});
          else
            proto::encode_manifest(out, it->second);
          break;
        }
        default:
          proto::encode(out, proto::error_msg{proto::error_code::bad_request, 0,
                                              "unexpected frame"});
      }
      send_all(fd, out.data(), out.size());
    }
  }

  void run() {
    while (!stop_) {
      pollfd pfd{listen_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0)
        continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0)
        continue;
      ++connections_;
      if (mode_ != mode::close_at_once)
        serve(fd);
      ::close(fd);
    }
  }

  uint64_t peer_id_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<mode> mode_{mode::normal};
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> last_hello_id_{0};
  std::mutex mtx_;
  std::vector<proto::catalog_entry> files_;
  std::map<proto::content_id, std::vector<char>> manifests_;
  std::thread thread_;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

} // namespace p2p::test
