#pragma once
// Resume records: what an unfinished download has verified so far.
// Stored in <state>/downloads/<content id hex>.json next to
// <content id hex>.manifest (the serialized manifest, written once).
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/manifest.hpp"

namespace p2p {

struct resume_record {
  std::string id_hex;       // content id
  std::string name;         // sanitised file name
  std::string out_dir;      // absolute directory of <name>.part
  uint64_t size = 0;
  uint32_t chunk_size = 0;
  bool overwrite = false;
  bool seed = true;         // shared on once complete (false: download --no-seed)
  std::vector<bool> have;   // verified chunks (size == chunk count)
};

// JSON text; the bitmap travels as hex (bit i = byte i/8, bit 7 - i%8).
std::string to_json(const resume_record& r);
// nullopt when malformed (bad JSON, missing fields, bitmap length mismatch).
std::optional<resume_record> resume_from_json(const std::string& text);

// A resume record with the manifest it vouches for, both read from
// <stem>.json and <stem>.manifest.
struct resume_files {
  resume_record rec;
  manifest man;
};

// Reads and checks a download's resume files: the record parses, the manifest
// parses and hashes to `id_hex` (as does the record's id), sizes and chunk
// counts agree. nullopt when there is no record at all (`why` empty) or when
// it must be discarded (`why` says why: "unreadable", "manifest missing or
// unreadable", "content id does not match", "size does not match the
// manifest"). The part file is checked by its opener (storage/part_file.hpp).
std::optional<resume_files> load_resume_files(const std::string& stem,
                                               const std::string& id_hex, std::string& why);

// The chunks of the part file at `part_path` that the record does not vouch
// for (have[i] false; `have` has m.chunk_count() entries) but whose bytes on
// disk are that chunk (SHA-256 against the manifest): chunks written after
// the record's last save, before a kill -9 (issue 7 item 4: without this
// check 13-16 % of a file was fetched twice). Reads with pread, one chunk at a
// time, so memory is one chunk. Stops early, returning what it found, when
// `stop` becomes true or a read fails (`err` then says why: "cannot open
// <path>: ...", "cannot read <path>: ..."). Blocking: call it on a thread of
// its own (a detached actor), never on the I/O thread.
std::vector<uint32_t> verify_unrecorded(const std::string& part_path, const manifest& m,
                                        const std::vector<bool>& have,
                                        const std::atomic<bool>& stop, std::string& err);

std::string bitmap_to_hex(const std::vector<bool>& bits);
std::optional<std::vector<bool>> bitmap_from_hex(const std::string& hex, size_t nbits);

} // namespace p2p
