// frame_reader fed a byte stream in pieces of any size: it must yield the same
// frames, and fail at the same header, as a plain parse of the whole stream.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <vector>

#include "fuzz/check.hpp"
#include "protocol/frame.hpp"

using namespace p2p::proto;

namespace {

struct parsed {
  std::vector<frame_header> headers;
  std::vector<std::vector<char>> payloads;
  bool error = false;
};

// The reference: whole frames at the front of `s`, up to the first bad header.
parsed parse_stream(const std::vector<char>& s, uint32_t max_payload) {
  parsed out;
  size_t at = 0;
  while (s.size() - at >= frame_header_size) {
    frame_header h;
    if (decode_header(s.data() + at, h, max_payload) != header_status::ok) {
      out.error = true;
      break;
    }
    if (s.size() - at - frame_header_size < h.length)
      break;
    out.headers.push_back(h);
    auto body = s.begin() + static_cast<long>(at + frame_header_size);
    out.payloads.emplace_back(body, body + h.length);
    at += frame_header_size + h.length;
  }
  return out;
}

bool same_header(const frame_header& a, const frame_header& b) {
  return a.length == b.length && a.version == b.version && a.type == b.type;
}

// Records a frame or an error; true while the reader can go on.
bool record(frame_reader& r, frame_reader::step st, parsed& got) {
  if (st == frame_reader::step::error) {
    FUZZ_CHECK(r.error() != header_status::ok);
    got.error = true;
    return false;
  }
  if (st == frame_reader::step::frame) {
    FUZZ_CHECK(r.payload().size() == r.header().length);
    got.headers.push_back(r.header());
    got.payloads.push_back(r.payload());
  }
  FUZZ_CHECK(r.want() == frame_header_size || r.want() <= 65536);
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto max_payload = in.ConsumeIntegralInRange<uint32_t>(0, 65536);
  frame_reader reader(max_payload);
  std::vector<char> stream;
  parsed got;
  bool alive = true;
  while (alive && in.remaining_bytes() > 0) {
    auto piece_len = in.ConsumeIntegralInRange<size_t>(0, 64);
    auto bytes = in.ConsumeBytes<char>(piece_len);
    stream.insert(stream.end(), bytes.begin(), bytes.end());
    auto st = reader.feed(bytes);
    FUZZ_CHECK(bytes.empty()); // feed() takes the whole buffer
    alive = record(reader, st, got);
    // Bytes beyond a frame stay buffered: drain them with empty feeds.
    while (alive && st == frame_reader::step::frame) {
      std::vector<char> none;
      st = reader.feed(none);
      alive = record(reader, st, got);
    }
  }
  if (!alive) { // after an error, every call is an error
    std::vector<char> none{'x'};
    FUZZ_CHECK(reader.feed(none) == frame_reader::step::error);
  }
  auto want = parse_stream(stream, max_payload);
  FUZZ_CHECK(got.error == want.error);
  FUZZ_CHECK(got.headers.size() == want.headers.size());
  for (size_t i = 0; i < got.headers.size(); ++i) {
    FUZZ_CHECK(same_header(got.headers[i], want.headers[i]));
    FUZZ_CHECK(got.payloads[i] == want.payloads[i]);
  }
  return 0;
}
