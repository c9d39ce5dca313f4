#include "protocol/frame.hpp"

#include "util/bytes.hpp"
#include "util/hex.hpp"

namespace p2p::proto {

namespace {

constexpr uint8_t min_type = static_cast<uint8_t>(frame_type::hello);
constexpr uint8_t max_type = static_cast<uint8_t>(frame_type::chunk_run);
constexpr uint16_t max_error_code = static_cast<uint16_t>(error_code::not_have);

// Writes a header with a zero length, returns its offset for patch_length.
size_t begin_frame(std::vector<char>& out, frame_type t) {
  auto at = out.size();
  encode_header(out, t, 0);
  return at;
}

void patch_length(std::vector<char>& out, size_t at) {
  auto len = static_cast<uint32_t>(out.size() - at - frame_header_size);
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>(len >> (24 - 8 * i));
}

} // namespace

header_status decode_header(const char* p, frame_header& out, uint32_t max_payload) {
  frame_header h;
  h.length = bytes::load_u32(p);
  h.version = static_cast<uint8_t>(p[4]);
  auto type = static_cast<uint8_t>(p[5]);
  if (h.version != protocol_version)
    return header_status::bad_version;
  if (type < min_type || type > max_type)
    return header_status::bad_type;
  h.type = static_cast<frame_type>(type);
  if (h.length > max_payload)
    return header_status::oversize;
  out = h;
  return header_status::ok;
}

void encode_header(std::vector<char>& out, frame_type t, uint32_t payload_len) {
  bytes::put_u32(out, payload_len);
  bytes::put_u8(out, protocol_version);
  bytes::put_u8(out, static_cast<uint8_t>(t));
}

void encode(std::vector<char>& out, const hello_msg& m, bool ack) {
  auto at = begin_frame(out, ack ? frame_type::hello_ack : frame_type::hello);
  bytes::put_u64(out, m.peer_id);
  bytes::put_u16(out, m.tcp_port);
  bytes::put_str16(out, m.name);
  patch_length(out, at);
}

void encode_catalog_req(std::vector<char>& out) {
  encode_header(out, frame_type::catalog_req, 0);
}

void encode_catalog_req(std::vector<char>& out, uint32_t known) {
  encode_header(out, frame_type::catalog_req, 4);
  bytes::put_u32(out, known);
}

bool decode_catalog_req(const char* p, size_t n, bool& conditional, uint32_t& known) {
  if (n == 0) {
    conditional = false;
    known = 0;
    return true;
  }
  if (n != 4)
    return false;
  conditional = true;
  known = bytes::load_u32(p);
  return true;
}

void encode(std::vector<char>& out, const catalog_same_msg& m) {
  encode_header(out, frame_type::catalog_same, 4);
  bytes::put_u32(out, m.version);
}

bool decode(const char* p, size_t n, catalog_same_msg& out) {
  if (n != 4)
    return false;
  auto v = bytes::load_u32(p);
  if (v == 0)
    return false; // a version is never 0
  out.version = v;
  return true;
}

void encode(std::vector<char>& out, const catalog_msg& m) {
  auto at = begin_frame(out, frame_type::catalog);
  bytes::put_u32(out, static_cast<uint32_t>(m.files.size()));
  for (auto& f : m.files) {
    bytes::put_raw(out, f.id.data(), f.id.size());
    bytes::put_u64(out, f.size);
    bytes::put_str16(out, f.name);
  }
  if (m.version != 0)
    bytes::put_u32(out, m.version);
  patch_length(out, at);
}

namespace {

// The frames whose payload is one content id (manifest_req, interested).
void encode_id_only(std::vector<char>& out, frame_type type, const content_id& id) {
  encode_header(out, type, static_cast<uint32_t>(id.size()));
  bytes::put_raw(out, id.data(), id.size());
}

bool decode_id_only(const char* p, size_t n, content_id& out) {
  bytes::reader r(p, n);
  content_id id;
  if (!r.get_raw(id.data(), id.size()) || !r.at_end())
    return false;
  out = id;
  return true;
}

} // namespace

void encode(std::vector<char>& out, const manifest_req_msg& m) {
  encode_id_only(out, frame_type::manifest_req, m.id);
}

void encode_manifest(std::vector<char>& out, const std::vector<char>& manifest_bytes) {
  encode_header(out, frame_type::manifest, static_cast<uint32_t>(manifest_bytes.size()));
  out.insert(out.end(), manifest_bytes.begin(), manifest_bytes.end());
}

void encode(std::vector<char>& out, const chunk_req_msg& m, bool cancel) {
  encode_header(out, cancel ? frame_type::cancel : frame_type::chunk_req,
                static_cast<uint32_t>(m.id.size() + 4));
  bytes::put_raw(out, m.id.data(), m.id.size());
  bytes::put_u32(out, m.index);
}

void encode(std::vector<char>& out, const error_msg& m) {
  auto at = begin_frame(out, frame_type::error);
  bytes::put_u16(out, static_cast<uint16_t>(m.code));
  bytes::put_u32(out, m.index);
  bytes::put_str16(out, m.message);
  patch_length(out, at);
}

void encode(std::vector<char>& out, const interested_msg& m) {
  encode_id_only(out, frame_type::interested, m.id);
}

void encode(std::vector<char>& out, const bitfield_msg& m) {
  auto at = begin_frame(out, frame_type::bitfield);
  bytes::put_raw(out, m.id.data(), m.id.size());
  auto count = static_cast<uint32_t>(m.bits.size());
  bytes::put_u32(out, count);
  for (uint32_t base = 0; base < count; base += 8) {
    uint8_t byte = 0;
    for (uint32_t b = 0; b < 8 && base + b < count; ++b)
      if (m.bits[base + b])
        byte |= static_cast<uint8_t>(0x80u >> b);
    bytes::put_u8(out, byte);
  }
  patch_length(out, at);
}

void encode(std::vector<char>& out, const have_msg& m) {
  encode_header(out, frame_type::have, static_cast<uint32_t>(m.id.size() + 4));
  bytes::put_raw(out, m.id.data(), m.id.size());
  bytes::put_u32(out, m.index);
}

void encode_refusal(std::vector<char>& out, uint8_t peer_version,
                    const std::string& message) {
  auto at = out.size();
  encode(out, error_msg{error_code::bad_request, 0, message});
  // Versions 1 and 2 have the same error frame and know bad_request.
  if (peer_version >= 1 && peer_version < protocol_version)
    out[at + 4] = static_cast<char>(peer_version);
}

void encode_chunk_header(std::vector<char>& out, uint32_t index, uint32_t data_len) {
  encode_header(out, frame_type::chunk,
                data_len + static_cast<uint32_t>(chunk_payload_offset));
  bytes::put_u32(out, index);
}

void encode_chunk_run_header(std::vector<char>& out, uint32_t first, uint32_t count,
                             uint32_t data_len) {
  encode_header(out, frame_type::chunk_run,
                data_len + static_cast<uint32_t>(chunk_run_payload_offset));
  bytes::put_u32(out, first);
  bytes::put_u32(out, count);
}

bool decode(const char* p, size_t n, hello_msg& out) {
  bytes::reader r(p, n);
  hello_msg m;
  if (!r.get_u64(m.peer_id) || !r.get_u16(m.tcp_port) || !r.get_str16(m.name)
      || !r.at_end())
    return false;
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, catalog_msg& out) {
  // Smallest entry: 32-byte id, u64 size, empty name.
  constexpr size_t min_entry = 32 + 8 + 2;
  bytes::reader r(p, n);
  uint32_t count;
  if (!r.get_u32(count) || count > r.remaining() / min_entry)
    return false;
  catalog_msg m;
  m.files.resize(count);
  for (auto& f : m.files)
    if (!r.get_raw(f.id.data(), f.id.size()) || !r.get_u64(f.size)
        || !r.get_str16(f.name))
      return false;
  // The version after the files (an answer to a conditional request), or
  // nothing.
  if (!r.at_end() && (!r.get_u32(m.version) || m.version == 0 || !r.at_end()))
    return false;
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, manifest_req_msg& out) {
  return decode_id_only(p, n, out.id);
}

bool decode(const char* p, size_t n, chunk_req_msg& out) {
  bytes::reader r(p, n);
  chunk_req_msg m;
  if (!r.get_raw(m.id.data(), m.id.size()) || !r.get_u32(m.index) || !r.at_end())
    return false;
  out = m;
  return true;
}

bool decode(const char* p, size_t n, error_msg& out) {
  bytes::reader r(p, n);
  error_msg m;
  uint16_t code;
  if (!r.get_u16(code) || code == 0 || code > max_error_code || !r.get_u32(m.index)
      || !r.get_str16(m.message) || !r.at_end())
    return false;
  m.code = static_cast<error_code>(code);
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, interested_msg& out) {
  return decode_id_only(p, n, out.id);
}

bool decode(const char* p, size_t n, bitfield_msg& out) {
  bytes::reader r(p, n);
  bitfield_msg m;
  uint32_t count;
  if (!r.get_raw(m.id.data(), m.id.size()) || !r.get_u32(count)
      || r.remaining() != (uint64_t{count} + 7) / 8)
    return false;
  m.bits.assign(count, false);
  auto bits = reinterpret_cast<const uint8_t*>(r.cursor());
  for (uint32_t i = 0; i < count; ++i)
    m.bits[i] = (bits[i / 8] & (0x80u >> (i % 8))) != 0;
  // Spare bits must be zero (as in BitTorrent): a set one is garbage.
  if (count % 8 != 0 && (bits[count / 8] & (0xffu >> (count % 8))) != 0)
    return false;
  out = std::move(m);
  return true;
}

bool decode(const char* p, size_t n, have_msg& out) {
  bytes::reader r(p, n);
  have_msg m;
  if (!r.get_raw(m.id.data(), m.id.size()) || !r.get_u32(m.index) || !r.at_end())
    return false;
  out = m;
  return true;
}

bool decode_chunk(const char* p, size_t n, uint32_t& index, const char*& data,
                  size_t& data_len) {
  if (n < chunk_payload_offset)
    return false;
  index = bytes::load_u32(p);
  data = p + chunk_payload_offset;
  data_len = n - chunk_payload_offset;
  return true;
}

bool decode_chunk_run(const char* p, size_t n, uint32_t& first, uint32_t& count,
                      const char*& data, size_t& data_len) {
  if (n < chunk_run_payload_offset)
    return false;
  auto f = bytes::load_u32(p);
  auto c = bytes::load_u32(p + 4);
  if (c == 0 || c > max_run_chunks || f > UINT32_MAX - c)
    return false;
  first = f;
  count = c;
  data = p + chunk_run_payload_offset;
  data_len = n - chunk_run_payload_offset;
  return true;
}

std::optional<content_id> content_id_from_hex(const std::string& hex) {
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != content_id{}.size())
    return std::nullopt;
  content_id id;
  std::copy(bytes->begin(), bytes->end(), id.begin());
  return id;
}

const char* to_string(error_code c) {
  switch (c) {
    case error_code::unknown_file: return "unknown_file";
    case error_code::bad_index: return "bad_index";
    case error_code::busy: return "busy";
    case error_code::io: return "io";
    case error_code::changed: return "changed";
    case error_code::bad_request: return "bad_request";
    case error_code::not_have: return "not_have";
  }
  return "error";
}

std::string to_string(frame_type t) {
  switch (t) {
    case frame_type::hello:
      return "hello";
    case frame_type::hello_ack:
      return "hello_ack";
    case frame_type::catalog_req:
      return "catalog_req";
    case frame_type::catalog:
      return "catalog";
    case frame_type::manifest_req:
      return "manifest_req";
    case frame_type::manifest:
      return "manifest";
    case frame_type::chunk_req:
      return "chunk_req";
    case frame_type::chunk:
      return "chunk";
    case frame_type::error:
      return "error";
    case frame_type::cancel:
      return "cancel";
    case frame_type::interested:
      return "interested";
    case frame_type::bitfield:
      return "bitfield";
    case frame_type::have:
      return "have";
    case frame_type::auth_hello:
      return "auth_hello";
    case frame_type::auth_hello_ack:
      return "auth_hello_ack";
    case frame_type::auth_proof:
      return "auth_proof";
    case frame_type::catalog_same:
      return "catalog_same";
    case frame_type::chunk_run:
      return "chunk_run";
  }
  return "unknown(" + std::to_string(static_cast<int>(t)) + ")";
}

// -- frame_reader -------------------------------------------------------------

size_t frame_reader::want() const {
  return in_payload_ ? hdr_.length : frame_header_size;
}

frame_reader::step frame_reader::feed(std::vector<char>& buf) {
  if (err_ != header_status::ok)
    return step::error;
  // Common case: the broker delivered exactly what we asked for.
  if (pending_.empty() && buf.size() == want()) {
    auto result = consume(buf);
    buf.clear();
    return result;
  }
  pending_.insert(pending_.end(), buf.begin(), buf.end());
  buf.clear();
  for (;;) {
    auto need = want();
    if (pending_.size() < need)
      return step::more;
    std::vector<char> piece(pending_.begin(), pending_.begin() + need);
    pending_.erase(pending_.begin(), pending_.begin() + need);
    auto result = consume(piece);
    if (result != step::more)
      return result;
  }
}

frame_reader::step frame_reader::consume(std::vector<char>& piece) {
  if (!in_payload_) {
    peer_version_ = static_cast<uint8_t>(piece[4]);
    auto st = decode_header(piece.data(), hdr_, max_payload_);
    if (st != header_status::ok) {
      err_ = st;
      return step::error;
    }
    payload_.clear();
    if (hdr_.length == 0)
      return step::frame;
    in_payload_ = true;
    return step::more;
  }
  payload_.swap(piece);
  in_payload_ = false;
  return step::frame;
}

} // namespace p2p::proto
