#pragma once
// Big-endian integer and string packing for the binary codecs (frames,
// datagrams, manifests). Internal to p2p_core.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace p2p::bytes {

inline void put_u8(std::vector<char>& out, uint8_t v) {
  out.push_back(static_cast<char>(v));
}

inline void put_u16(std::vector<char>& out, uint16_t v) {
  put_u8(out, static_cast<uint8_t>(v >> 8));
  put_u8(out, static_cast<uint8_t>(v));
}

inline void put_u32(std::vector<char>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    put_u8(out, static_cast<uint8_t>(v >> shift));
}

inline void put_u64(std::vector<char>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    put_u8(out, static_cast<uint8_t>(v >> shift));
}

inline void put_raw(std::vector<char>& out, const void* p, size_t n) {
  auto c = static_cast<const char*>(p);
  out.insert(out.end(), c, c + n);
}

// u16 length + bytes; longer strings are cut to 65535 bytes.
inline void put_str16(std::vector<char>& out, const std::string& s) {
  auto n = s.size() > 0xffff ? size_t{0xffff} : s.size();
  put_u16(out, static_cast<uint16_t>(n));
  put_raw(out, s.data(), n);
}

// Bounds-checked reader: every get fails (returns false) once the input is
// exhausted, and leaves the reader failed.
class reader {
public:
  reader(const char* p, size_t n) : p_(reinterpret_cast<const uint8_t*>(p)), n_(n) {}

  size_t remaining() const { return n_ - pos_; }
  bool at_end() const { return pos_ == n_; }
  const char* cursor() const { return reinterpret_cast<const char*>(p_ + pos_); }

  bool get_u8(uint8_t& v) {
    if (remaining() < 1)
      return false;
    v = p_[pos_++];
    return true;
  }

  bool get_u16(uint16_t& v) {
    uint64_t x;
    if (!get_be(2, x))
      return false;
    v = static_cast<uint16_t>(x);
    return true;
  }

  bool get_u32(uint32_t& v) {
    uint64_t x;
    if (!get_be(4, x))
      return false;
    v = static_cast<uint32_t>(x);
    return true;
  }

  bool get_u64(uint64_t& v) { return get_be(8, v); }

  bool get_raw(void* dst, size_t n) {
    if (remaining() < n)
      return false;
    std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
    return true;
  }

  bool skip(size_t n) {
    if (remaining() < n)
      return false;
    pos_ += n;
    return true;
  }

  bool get_str16(std::string& s) {
    uint16_t len;
    if (!get_u16(len) || remaining() < len)
      return false;
    s.assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }

private:
  bool get_be(size_t width, uint64_t& v) {
    if (remaining() < width)
      return false;
    v = 0;
    for (size_t i = 0; i < width; ++i)
      v = (v << 8) | p_[pos_ + i];
    pos_ += width;
    return true;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

inline uint32_t load_u32(const char* p) {
  auto u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8)
         | uint32_t{u[3]};
}

} // namespace p2p::bytes
