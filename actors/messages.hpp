#pragma once
// Data carried in messages between the daemon's actors. Plain structs with an
// `inspect` (CAF 0.17 API) so CAF can copy, print and compare them.
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "storage/seeder_state.hpp"

namespace p2p {

// A file this daemon shares.
struct share_info {
  std::string name;    // name offered to peers (bytes; a shared folder's files
                       // are offered as "<folder>/<sub>/<file>")
  std::string path;    // absolute path on this machine
  std::string id_hex;  // content id
  uint64_t size = 0;
  uint32_t chunk_size = 0;
  int64_t mtime_ns = 0; // modification time when hashed
  // A partial offer (a download in progress, see "Swarming" in
  // docs/protocol.md): `path` is its part file and `have` its verified
  // chunks. False and empty for a share.
  bool partial = false;
  std::vector<bool> have;
};

// A file or link `share` left out, and why (e.g. a link leading outside the
// shared folder).
struct skipped_file {
  std::string path;
  std::string reason;
};

// The answer to `share`: the shares added or already present, and what was
// left out.
struct share_result {
  std::vector<share_info> shares;
  std::vector<skipped_file> skipped;
};

// One file of a hasher batch: its serialized manifest, or why it failed.
struct hash_result {
  std::string path;
  std::vector<char> manifest; // empty when `error` is set
  std::string error;
};

// A peer was heard from (multicast announce) or is configured (--peer).
struct peer_sighting {
  uint64_t peer_id = 0;        // 0 when not known yet (static peers)
  std::string addr;            // address to dial
  uint16_t port = 0;           // its peer_server port
  uint32_t catalog_version = 0;
  bool is_static = false;
};

// A file offered by a remote peer, as its catalog lists it.
struct remote_file {
  std::string name;
  std::string id_hex;
  uint64_t size = 0;
};

// The answer of a remote peer_server to hello + catalog request.
struct remote_catalog {
  uint64_t peer_id = 0;
  std::vector<remote_file> files;
  // The answer to a conditional request: the server's catalog version (0:
  // not told), and whether the asker's copy is current (catalog_same: no
  // files).
  uint32_t version = 0;
  bool unchanged = false;
};

// A file available on the LAN, merged over all peers offering it.
struct file_offer {
  std::string name;
  std::string id_hex;
  uint64_t size = 0;
  std::vector<std::string> seeders; // "host:port" of each peer_server
};

struct peer_info {
  uint64_t peer_id = 0;
  std::string addr;        // "host:port"
  uint32_t files = 0;
  int64_t last_seen_ms = 0; // ms since last heard from
  std::string source;       // "multicast" or "static"
};

struct scan_result {
  uint32_t peers = 0;
  uint32_t files = 0;
};

struct upload_stats {
  uint64_t bytes_total = 0;
  uint32_t active = 0; // connections with requests being served
  // Chunk reads handed to the disk reader (not in the page cache, or the
  // file's first read on a connection): the I/O thread never waited for them.
  uint64_t disk_reads = 0;
  // Chunks sent by sendfile(2) from the page cache (plain connections), not
  // copied through the write buffer.
  uint64_t zero_copy_chunks = 0;
};

struct download_request {
  std::string name;      // either name or id_hex is set
  std::string id_hex;
  std::string out_dir;   // absolute
  bool overwrite = false;
  bool seed = true;      // keep serving the file as a share once complete
};

// Per-seeder state of one download.
struct peer_bytes {
  std::string addr;     // "host:port"
  uint64_t bytes = 0;   // verified bytes received from it
  seeder_state state = seeder_state::connecting;
  std::string error;    // last error from it, if any
};

// A download's state. Inside the daemon it travels as this enum (CAF
// serializes it as its underlying integer and prints it with to_string);
// to_string gives the word the control channel's JSON carries.
enum class dl_state : uint8_t { queued, running, complete, failed, cancelled };

// "queued", "running", "complete", "failed", "cancelled" (status JSON).
const char* to_string(dl_state s);

struct download_info {
  uint64_t key = 0;       // daemon-local handle of this download
  std::string name;
  std::string id_hex;
  std::string out_path;   // final path <out>/<name>
  uint64_t size = 0;
  dl_state state = dl_state::queued;
  uint64_t bytes_done = 0;
  uint64_t rate_bps = 0;  // bytes/s over the last seconds
  int64_t eta_s = -1;     // -1 unknown
  std::string error;      // why it failed, or the last trouble
  std::vector<peer_bytes> peers;
  bool seeding = false;   // complete and offered on as a share (not --no-seed)
};

// True once a download is complete, failed or cancelled.
bool is_final(const download_info& d);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_info& x) {
  return f(caf::meta::type_name("share_info"), x.name, x.path, x.id_hex, x.size,
           x.chunk_size, x.mtime_ns, x.partial, x.have);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, skipped_file& x) {
  return f(caf::meta::type_name("skipped_file"), x.path, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_result& x) {
  return f(caf::meta::type_name("share_result"), x.shares, x.skipped);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hash_result& x) {
  return f(caf::meta::type_name("hash_result"), x.path, x.manifest, x.error);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_sighting& x) {
  return f(caf::meta::type_name("peer_sighting"), x.peer_id, x.addr, x.port,
           x.catalog_version, x.is_static);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_file& x) {
  return f(caf::meta::type_name("remote_file"), x.name, x.id_hex, x.size);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_catalog& x) {
  return f(caf::meta::type_name("remote_catalog"), x.peer_id, x.files);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_offer& x) {
  return f(caf::meta::type_name("file_offer"), x.name, x.id_hex, x.size, x.seeders);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_info& x) {
  return f(caf::meta::type_name("peer_info"), x.peer_id, x.addr, x.files,
           x.last_seen_ms, x.source);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scan_result& x) {
  return f(caf::meta::type_name("scan_result"), x.peers, x.files);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_stats& x) {
  return f(caf::meta::type_name("upload_stats"), x.bytes_total, x.active, x.disk_reads,
           x.zero_copy_chunks);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_request& x) {
  return f(caf::meta::type_name("download_request"), x.name, x.id_hex, x.out_dir,
           x.overwrite, x.seed);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_bytes& x) {
  return f(caf::meta::type_name("peer_bytes"), x.addr, x.bytes, x.state, x.error);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, download_info& x) {
  return f(caf::meta::type_name("download_info"), x.key, x.name, x.id_hex,
           x.out_path, x.size, x.state, x.bytes_done, x.rate_bps, x.eta_s, x.error,
           x.peers, x.seeding);
}

// Errors the daemon's actors reply with; the control server turns each into
// {"code": ec_code(x), "message": <context>}.
enum class ec : uint8_t {
  none = 0,
  not_found,
  ambiguous,
  exists,
  io_error,
  failed,
  bad_request,
  internal,
};

// "not_found", "ambiguous", ... (the control channel's error codes).
const char* ec_code(ec x);

// An error of category "p2p" whose context is `message` (caf::make_error
// with the category CAF_ERROR_CODE_ENUM below registers).
caf::error make_error(ec x, std::string message);

// For any error: the control code and a one-line message.
std::pair<std::string, std::string> describe(const caf::error& err);

} // namespace p2p

// The daemon's one error enum, registered with CAF as category "p2p"
// (CAF 0.17.6 caf/error.hpp: CAF_ERROR_CODE_ENUM(enum, category)), so
// caf::make_error(ec::x, ...) and caf::error{ec::x} need no casts.
CAF_ERROR_CODE_ENUM(p2p::ec, "p2p")
