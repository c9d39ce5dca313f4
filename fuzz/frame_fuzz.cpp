// Frame codec: a header and a payload decoded by the header's type. Whatever
// decodes must encode back to the same bytes (the encoding is canonical).
#include <cstdint>
#include <vector>

#include "fuzz/check.hpp"
#include "protocol/frame.hpp"
#include "protocol/hello_auth.hpp"

using namespace p2p::proto;

namespace {

// The payload of a whole encoded frame.
std::vector<char> payload_of(const std::vector<char>& frame) {
  FUZZ_CHECK(frame.size() >= frame_header_size);
  return {frame.begin() + frame_header_size, frame.end()};
}

template <class Msg, class Encode>
void round_trip(const char* p, size_t n, Encode encode_msg) {
  Msg m;
  if (!decode(p, n, m))
    return;
  std::vector<char> out;
  encode_msg(out, m);
  FUZZ_CHECK(payload_of(out) == std::vector<char>(p, p + n));
}

void decode_payload(frame_type t, const char* p, size_t n) {
  switch (t) {
    case frame_type::hello:
    case frame_type::hello_ack:
      round_trip<hello_msg>(p, n, [](auto& out, auto& m) { encode(out, m, false); });
      break;
    case frame_type::catalog:
      round_trip<catalog_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::manifest_req:
      round_trip<manifest_req_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::chunk_req:
    case frame_type::cancel:
      round_trip<chunk_req_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::error:
      round_trip<error_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::interested:
      round_trip<interested_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::bitfield:
      round_trip<bitfield_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::have:
      round_trip<have_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::chunk: {
      uint32_t index = 0;
      const char* data = nullptr;
      size_t len = 0;
      if (decode_chunk(p, n, index, data, len)) {
        FUZZ_CHECK(data == p + 4 && len == n - 4);
        std::vector<char> out;
        encode_chunk_header(out, index, static_cast<uint32_t>(len));
        out.insert(out.end(), data, data + len);
        FUZZ_CHECK(payload_of(out) == std::vector<char>(p, p + n));
      }
      break;
    }
    case frame_type::chunk_run: {
      uint32_t first = 0, count = 0;
      const char* data = nullptr;
      size_t len = 0;
      if (decode_chunk_run(p, n, first, count, data, len)) {
        FUZZ_CHECK(data == p + 8 && len == n - 8);
        FUZZ_CHECK(count >= 1 && count <= max_run_chunks && uint64_t{first} + count <= 0x100000000ull);
        std::vector<char> out;
        encode_chunk_run_header(out, first, count, static_cast<uint32_t>(len));
        out.insert(out.end(), data, data + len);
        FUZZ_CHECK(payload_of(out) == std::vector<char>(p, p + n));
      }
      break;
    }
    case frame_type::auth_hello:
      round_trip<auth_hello_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::auth_hello_ack:
      round_trip<auth_hello_ack_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::auth_proof:
      round_trip<auth_proof_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::catalog_same:
      round_trip<catalog_same_msg>(p, n, [](auto& out, auto& m) { encode(out, m); });
      break;
    case frame_type::catalog_req: {
      bool conditional = false;
      uint32_t known = 0;
      if (decode_catalog_req(p, n, conditional, known)) {
        std::vector<char> out;
        if (conditional)
          encode_catalog_req(out, known);
        else
          encode_catalog_req(out);
        FUZZ_CHECK(payload_of(out) == std::vector<char>(p, p + n));
      }
      break;
    }
    case frame_type::manifest:
      break; // manifest bytes (the manifest target)
  }
  (void) to_string(t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < frame_header_size)
    return 0;
  auto p = reinterpret_cast<const char*>(data);
  frame_header h;
  auto st = decode_header(p, h);
  if (st != header_status::ok)
    return 0;
  FUZZ_CHECK(h.version == protocol_version && h.length <= max_frame_payload);
  std::vector<char> hdr;
  encode_header(hdr, h.type, h.length);
  FUZZ_CHECK(hdr == std::vector<char>(p, p + frame_header_size));
  decode_payload(h.type, p + frame_header_size, size - frame_header_size);
  return 0;
}
