#pragma once
// The one fake peer_server of the tests: plain POSIX sockets on 127.0.0.1 and
// its own thread (no CAF), speaking the frame protocol (docs/protocol.md),
// serving every connection at once. It answers as its mode says and counts
// what it was asked; actor tests and system tests both use it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "protocol/frame.hpp"
#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace p2p::test {

// A catalog entry for the hex content id `id_hex` (64 hex digits).
inline proto::catalog_entry catalog_entry_of(const std::string& id_hex, uint64_t size,
                                             const std::string& name) {
  proto::catalog_entry e;
  auto raw = from_hex(id_hex);
  REQUIRE(raw);
  REQUIRE(raw->size() == e.id.size());
  std::copy(raw->begin(), raw->end(), e.id.begin());
  e.size = size;
  e.name = name;
  return e;
}

class fake_seeder {
public:
  enum class mode {
    normal,        // hello, catalog, manifest (or unknown_file); bad_request to the rest
    catalog_only,  // hello and catalog; manifest and chunk requests never answered
    mute,          // reads everything, answers nothing (not even hello)
    close_at_once, // accepts and closes
  };

  // peer_id 0: a random one.
  explicit fake_seeder(uint64_t peer_id = 0, mode m = mode::normal)
    : peer_id_(peer_id), mode_(m) {
    if (peer_id_ == 0) {
      std::random_device rd;
      peer_id_ = (uint64_t{rd()} << 32) | rd() | 1;
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
        || ::listen(fd_, 16) != 0
        || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind/listen failed");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  // A catalog_only seeder listing `files` (the download tests' "silent seeder").
  explicit fake_seeder(std::vector<proto::catalog_entry> files, mode m = mode::catalog_only)
    : fake_seeder(0, m) {
    set_files(std::move(files));
  }

  ~fake_seeder() {
    stop_ = true;
    thread_.join();
    for (auto& c : conns_)
      ::close(c.fd);
    ::close(fd_);
  }

  fake_seeder(const fake_seeder&) = delete;
  fake_seeder& operator=(const fake_seeder&) = delete;

  uint16_t port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  uint64_t peer_id() const { return peer_id_; }

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

  size_t connections() const { return connections_; }
  size_t frames() const { return frames_; }
  // Its catalog version (0: none, the default: conditional requests get the
  // files without one). A conditional request naming it gets catalog_same.
  void set_version(uint32_t v) { version_ = v; }
  // Refuses conditional catalog requests as a build before them did:
  // error(bad_request, "malformed catalog_req frame").
  void set_plain_only(bool on) { plain_only_ = on; }
  size_t catalog_requests() const { return catalog_requests_; }
  // The known version of each catalog request, in order; -1 for a plain one.
  std::vector<int64_t> catalog_knowns() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return knowns_;
  }
  size_t manifest_requests() const { return manifest_requests_; }
  size_t chunk_requests() const { return chunk_requests_; }
  uint64_t last_hello_id() const { return last_hello_id_; }
  std::string last_hello_name() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return last_hello_name_;
  }

private:
  struct conn {
    int fd = -1;
    std::vector<char> in;
  };

  // Runs until the destructor sets stop_; each round waits at most 50 ms.
  void loop() {
    while (!stop_) {
      std::vector<pollfd> fds{pollfd{fd_, POLLIN, 0}};
      for (auto& c : conns_)
        fds.push_back(pollfd{c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0)
        continue;
      for (size_t i = 1; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
          continue;
        auto& c = conns_[i - 1];
        char buf[65536];
        auto n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          ::close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.insert(c.in.end(), buf, buf + n);
        on_input(c);
      }
      conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                                  [](const conn& c) { return c.fd < 0; }),
                   conns_.end());
      if (fds[0].revents & POLLIN) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0)
          continue;
        ++connections_;
        if (mode_ == mode::close_at_once)
          ::close(c);
        else
          conns_.push_back(conn{c, {}});
      }
    }
  }

  void on_input(conn& c) {
    while (c.fd >= 0 && c.in.size() >= proto::frame_header_size) {
      proto::frame_header h;
      if (proto::decode_header(c.in.data(), h) != proto::header_status::ok) {
        ::close(c.fd);
        c.fd = -1;
        return;
      }
      if (c.in.size() < proto::frame_header_size + h.length)
        return;
      std::vector<char> payload(c.in.begin() + proto::frame_header_size,
                                c.in.begin() + proto::frame_header_size + h.length);
      c.in.erase(c.in.begin(), c.in.begin() + proto::frame_header_size + h.length);
      ++frames_;
      auto out = answer(h.type, payload);
      size_t off = 0;
      while (off < out.size()) {
        auto n = ::send(c.fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        off += static_cast<size_t>(n);
      }
    }
  }

  std::vector<char> answer(proto::frame_type type, const std::vector<char>& payload) {
    std::vector<char> out;
    switch (type) {
      case proto::frame_type::hello: {
        proto::hello_msg hello;
        if (proto::decode(payload.data(), payload.size(), hello)) {
          last_hello_id_ = hello.peer_id;
          std::lock_guard<std::mutex> guard{mtx_};
          last_hello_name_ = hello.name;
        }
        if (mode_ != mode::mute)
          proto::encode(out, proto::hello_msg{peer_id_, port_, "fake"}, true);
        return out;
      }
      case proto::frame_type::catalog_req: {
        ++catalog_requests_;
        bool conditional = false;
        uint32_t known = 0;
        bool ok = proto::decode_catalog_req(payload.data(), payload.size(), conditional, known);
        std::lock_guard<std::mutex> guard{mtx_};
        knowns_.push_back(conditional ? int64_t{known} : -1);
        if (mode_ == mode::mute)
          return out;
        if (!ok || (conditional && plain_only_)) {
          proto::encode(out, proto::error_msg{proto::error_code::bad_request, 0,
                                              "malformed catalog_req frame"});
          return out;
        }
        uint32_t v = version_;
        if (conditional && v != 0 && known == v)
          proto::encode(out, proto::catalog_same_msg{v});
        else
          proto::encode(out, proto::catalog_msg{files_, conditional ? v : 0});
        return out;
      }
      case proto::frame_type::manifest_req: {
        ++manifest_requests_;
        if (mode_ != mode::normal)
          return out;
        proto::manifest_req_msg req;
        proto::decode(payload.data(), payload.size(), req);
        std::lock_guard<std::mutex> guard{mtx_};
        auto it = manifests_.find(req.id);
        if (it == manifests_.end())
          proto::encode(out, proto::error_msg{proto::error_code::unknown_file, 0,
                                              "unknown content id"});
        else
          proto::encode_manifest(out, it->second);
        return out;
      }
      case proto::frame_type::interested: {
        // Every chunk of a listed file (chunked as a real seeder would with
        // the default 256 KiB), so fetchers go on to request chunks.
        if (mode_ == mode::mute)
          return out;
        proto::interested_msg req;
        proto::decode(payload.data(), payload.size(), req);
        std::lock_guard<std::mutex> guard{mtx_};
        for (auto& f : files_)
          if (f.id == req.id) {
            auto cs = p2p::effective_chunk_size(f.size, 256 * 1024);
            proto::encode(out, proto::bitfield_msg{
                                 f.id, std::vector<bool>((f.size + cs - 1) / cs, true)});
            return out;
          }
        proto::encode(out, proto::error_msg{proto::error_code::unknown_file, 0,
                                            "unknown content id"});
        return out;
      }
      case proto::frame_type::chunk_req:
        ++chunk_requests_;
        [[fallthrough]];
      default:
        if (mode_ == mode::normal)
          proto::encode(out, proto::error_msg{proto::error_code::bad_request, 0,
                                              "unexpected frame"});
        return out;
    }
  }

  uint64_t peer_id_;
  std::atomic<mode> mode_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::vector<conn> conns_; // touched by the thread only (until the join)
  std::atomic<bool> stop_{false};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> frames_{0};
  std::atomic<size_t> catalog_requests_{0};
  std::atomic<size_t> manifest_requests_{0};
  std::atomic<size_t> chunk_requests_{0};
  std::atomic<uint64_t> last_hello_id_{0};
  mutable std::mutex mtx_;
  std::vector<proto::catalog_entry> files_;
  std::vector<int64_t> knowns_;
  std::atomic<uint32_t> version_{0};
  std::atomic<bool> plain_only_{false};
  std::string last_hello_name_;
  std::map<proto::content_id, std::vector<char>> manifests_;
  std::thread thread_;
};

} // namespace p2p::test
