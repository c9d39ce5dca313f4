#pragma once
// Resume records: what an unfinished download has verified so far.
// Stored in <state>/downloads/<content id hex>.json next to
// <content id hex>.manifest (the serialized manifest, written once).
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

std::string bitmap_to_hex(const std::vector<bool>& bits);
std::optional<std::vector<bool>> bitmap_from_hex(const std::string& hex, size_t nbits);

} // namespace p2p
