#pragma once
// Peer protocol frames (see docs/protocol.md).
//
// Every frame: u32 payload length (big endian) | u8 version | u8 type | payload.
// Integers are big endian. Strings are u16 length + bytes. Chunk frames carry
// their data raw after a 4-byte chunk index, so data is never re-encoded.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace p2p::proto {

// 2: swarming (interested, bitfield, have; error not_have). 3: chunk runs
// (chunk_run). A daemon speaks only this version: a frame with another one is
// refused (docs/protocol.md).
constexpr uint8_t protocol_version = 3;
constexpr size_t frame_header_size = 6;
// Largest payload accepted: the largest chunk (16 MiB) plus room for headers.
constexpr uint32_t max_frame_payload = (16u << 20) + 4096;

using content_id = std::array<uint8_t, 32>;

// A chunk frame's payload: u32 chunk index, then the chunk's bytes from this
// offset on. The one place that says where a chunk's data starts.
constexpr size_t chunk_payload_offset = 4;

// A chunk_run frame's payload: u32 first chunk index, u32 chunk count, then
// the bytes of chunks first .. first + count - 1 back to back from this offset
// on (their lengths follow from the manifest). A seeder sends the queued
// requests of consecutive chunks of one file as one run: one header and one
// sendfile instead of one per chunk. Per-chunk costs set the speed: 1 MiB
// chunks moved a 1 GiB file 0.73x the raw copy against 0.53-0.61x with 256 KiB
// ones (bench.py, P2P_CHUNK_SIZE, 2026-12-01), and a run keeps the content ids.
constexpr size_t chunk_run_payload_offset = 8;
// The most chunks one run carries; a run also stays within max_frame_payload.
constexpr uint32_t max_run_chunks = 64;

// The content id spelled by 64 hex digits; nullopt for any other string.
std::optional<content_id> content_id_from_hex(const std::string& hex);

enum class frame_type : uint8_t {
  hello = 1,        // client -> server, first frame: hello_msg
  hello_ack = 2,    // server -> client: hello_msg
  catalog_req = 3,  // empty (plain), or u32: the catalog version the asker
                    // holds of this server (conditional; catalog_same answers
                    // it while that is current)
  catalog = 4,      // catalog_msg
  manifest_req = 5, // manifest_req_msg
  manifest = 6,     // serialized manifest bytes (storage/manifest.hpp)
  chunk_req = 7,    // chunk_req_msg
  chunk = 8,        // u32 index | raw data
  error = 9,        // error_msg
  cancel = 10,      // chunk_req_msg: drop a queued request if not sent yet
  interested = 11,  // client -> server, interested_msg: send me your bitfield
                    // for this content id, then a have per chunk you verify
  bitfield = 12,    // server -> client: bitfield_msg
  have = 13,        // server -> client: have_msg (one newly verified chunk)
  // Private swarms (protocol/hello_auth.hpp): the hello as a mutual
  // challenge-response over the network key, instead of hello/hello_ack.
  auth_hello = 14,     // client -> server: auth_hello_msg
  auth_hello_ack = 15, // server -> client: auth_hello_ack_msg
  auth_proof = 16,     // client -> server: auth_proof_msg
  // server -> client, catalog_same_msg: the answer to a conditional
  // catalog_req whose version is the server's current one (no files).
  catalog_same = 17,
  // server -> client (version 3): u32 first | u32 count | the chunks' bytes.
  chunk_run = 18,
};

struct frame_header {
  uint32_t length = 0; // payload bytes after the 6-byte header
  uint8_t version = protocol_version;
  frame_type type = frame_type::error;
};

enum class header_status { ok, bad_version, bad_type, oversize };

// Decodes the 6 header bytes at `p`. `max_payload` bounds `length`.
header_status decode_header(const char* p, frame_header& out,
                            uint32_t max_payload = max_frame_payload);

// Appends a 6-byte header.
void encode_header(std::vector<char>& out, frame_type t, uint32_t payload_len);

struct hello_msg {
  uint64_t peer_id = 0;
  uint16_t tcp_port = 0;  // where the sender's peer_server listens (0: none)
  std::string name;       // free-form, e.g. host name
};

struct catalog_entry {
  content_id id{};
  uint64_t size = 0;
  std::string name;
};

struct catalog_msg {
  std::vector<catalog_entry> files;
  // The server's catalog version, after the files: only in the answer to a
  // conditional catalog_req (0: absent; a version is never 0).
  uint32_t version = 0;
};

struct catalog_same_msg {
  uint32_t version = 0; // the server's current catalog version
};

struct manifest_req_msg {
  content_id id{};
};

struct chunk_req_msg {
  content_id id{};
  uint32_t index = 0;
};

// Asks a peer which chunks of a content id it has (full or partial seeder).
struct interested_msg {
  content_id id{};
};

// The chunks of a content id a peer has verified and can serve: bits[i] is
// chunk i; bits.size() is the manifest's chunk count. On the wire: id (32),
// chunk count u32, then ceil(count / 8) bytes, chunk 0 in the high bit of the
// first byte (BitTorrent's order); spare bits in the last byte are zero.
struct bitfield_msg {
  content_id id{};
  std::vector<bool> bits;
};

// One chunk a partial seeder has verified since its bitfield.
struct have_msg {
  content_id id{};
  uint32_t index = 0;
};

enum class error_code : uint16_t {
  unknown_file = 1,  // content id not shared here
  bad_index = 2,     // chunk index out of range
  busy = 3,          // too many requests in flight on this connection
  io = 4,            // the seeder could not read its file
  changed = 5,       // the shared file changed on disk; content id withdrawn
  bad_request = 6,   // malformed frame
  not_have = 7,      // a partial seeder does not have this chunk (yet): the
                     // requester tries it elsewhere; it is not bad data
};

struct error_msg {
  error_code code = error_code::bad_request;
  uint32_t index = 0; // chunk index the error refers to, if any
  std::string message;
};

// Whole frames (header + payload) appended to `out`.
void encode(std::vector<char>& out, const hello_msg& m, bool ack);
void encode_catalog_req(std::vector<char>& out);
// A conditional catalog_req: `known` is the catalog version the asker holds
// of this server (0: none yet; the answer is then always a catalog). Static
// peers poll each other's catalogs every announce interval; unchanged, the
// answer is 4 bytes instead of every file (docs/protocol.md).
void encode_catalog_req(std::vector<char>& out, uint32_t known);
// A catalog_req's payload: empty (plain: `conditional` false) or u32 `known`.
// False for any other length.
bool decode_catalog_req(const char* p, size_t n, bool& conditional, uint32_t& known);
void encode(std::vector<char>& out, const catalog_msg& m);
void encode(std::vector<char>& out, const catalog_same_msg& m);
void encode(std::vector<char>& out, const manifest_req_msg& m);
void encode_manifest(std::vector<char>& out, const std::vector<char>& manifest_bytes);
void encode(std::vector<char>& out, const chunk_req_msg& m, bool cancel = false);
void encode(std::vector<char>& out, const error_msg& m);
void encode(std::vector<char>& out, const interested_msg& m);
void encode(std::vector<char>& out, const bitfield_msg& m);
void encode(std::vector<char>& out, const have_msg& m);
// An error(bad_request) frame carrying `message` in the frame layout of
// `peer_version` when that is an older version this one can still write
// (error frames are unchanged since version 1), else in the current one: so
// a peer speaking another version reads why it is refused before the close.
void encode_refusal(std::vector<char>& out, uint8_t peer_version,
                    const std::string& message);
// Appends the header and the 4-byte index of a chunk frame carrying `data_len`
// bytes; the caller appends the data itself.
void encode_chunk_header(std::vector<char>& out, uint32_t index, uint32_t data_len);
// Appends the header, first index and count of a chunk_run frame carrying
// `data_len` bytes (chunks first .. first + count - 1); the caller appends
// the data itself.
void encode_chunk_run_header(std::vector<char>& out, uint32_t first, uint32_t count,
                             uint32_t data_len);

// Payload decoders (payload only, header already consumed). False when the
// payload is truncated, has trailing bytes or is otherwise malformed.
bool decode(const char* p, size_t n, hello_msg& out);
// The version after the files is optional (never 0 when present).
bool decode(const char* p, size_t n, catalog_msg& out);
// False unless 4 bytes of a version other than 0.
bool decode(const char* p, size_t n, catalog_same_msg& out);
bool decode(const char* p, size_t n, manifest_req_msg& out);
bool decode(const char* p, size_t n, chunk_req_msg& out);
bool decode(const char* p, size_t n, error_msg& out);
bool decode(const char* p, size_t n, interested_msg& out);
// Also false when spare bits are set or the byte count does not match.
bool decode(const char* p, size_t n, bitfield_msg& out);
bool decode(const char* p, size_t n, have_msg& out);
// Chunk payload: sets `index` and the data span (from chunk_payload_offset
// on); false when the payload is shorter than the index.
bool decode_chunk(const char* p, size_t n, uint32_t& index, const char*& data,
                  size_t& data_len);

// Chunk run payload: sets `first`, `count` and the data span (from
// chunk_run_payload_offset on). False when the payload is shorter than its
// two fields, count is 0 or above max_run_chunks, or first + count overflows
// u32. Whether the data's length matches the chunks is the manifest's call.
bool decode_chunk_run(const char* p, size_t n, uint32_t& first, uint32_t& count,
                      const char*& data, size_t& data_len);

std::string to_string(frame_type t);
// "unknown_file", "busy", ... (error texts and status output).
const char* to_string(error_code c);

} // namespace p2p::proto

namespace p2p::proto {

// Incremental frame reader for brokers that read "exactly N bytes" at a time:
// first the 6 header bytes, then the payload (skipped when empty).
class frame_reader {
public:
  enum class step { more, frame, error };

  explicit frame_reader(uint32_t max_payload = max_frame_payload)
    : max_payload_(max_payload) {}

  // Bytes the broker should read next (header size or payload length).
  size_t want() const;

  // Consumes exactly want() bytes (takes the buffer's contents). Returns
  // `frame` when a whole frame is ready: header() and payload() hold it until
  // the next call; `error` on a bad header (see error()); else `more`.
  // Fewer bytes are buffered until want() are there; bytes beyond the frame
  // are kept for the next one (feed an empty buffer to drain them). After an
  // error every call returns `error`.
  step feed(std::vector<char>& buf);

  const frame_header& header() const { return hdr_; }
  std::vector<char>& payload() { return payload_; }
  header_status error() const { return err_; }
  // The version byte of the last header read (the peer's version after a
  // bad_version error); 0 before any header.
  uint8_t peer_version() const { return peer_version_; }

private:
  uint32_t max_payload_;
  bool in_payload_ = false;
  frame_header hdr_;
  std::vector<char> payload_;
  header_status err_ = header_status::ok;
  uint8_t peer_version_ = 0;
  std::vector<char> pending_; // bytes received beyond what want() asked for

  // Takes exactly want() bytes in `piece`.
  step consume(std::vector<char>& piece);
};

} // namespace p2p::proto
