#pragma once
// Where a download keeps its resume state: <state>/downloads/<stem>.json and
// <stem>.manifest, with stem = first 16 hex of the content id + "-" + 16 hex of
// SHA-256(final path), so every file downloaded to its own place has its own
// record: one content in two directories, and two files of the same bytes in
// one folder (a download of a folder with duplicate files; until 2026-12-01
// the stem hashed the out dir alone and those two shared one record).
#include <string>

#include "config/config.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace p2p {

inline std::string downloads_dir(const config& cfg) {
  return join_path(cfg.state_dir, "downloads");
}

// <downloads dir>/<first 16 hex of id_hex>-<first `bytes` of SHA-256(key) in hex>.
inline std::string hashed_stem(const config& cfg, const std::string& id_hex,
                               const std::string& key, size_t bytes) {
  auto d = sha256(key.data(), key.size());
  return join_path(downloads_dir(cfg), id_hex.substr(0, 16) + "-" + to_hex(d.data(), bytes));
}

// The record stem of the download of `id_hex` (64 hex) to `final_path`
// (absolute: out dir + sanitised name). No errors.
inline std::string record_stem(const config& cfg, const std::string& id_hex,
                               const std::string& final_path) {
  return hashed_stem(cfg, id_hex, final_path, 8);
}

// The stem records had before 2026-12-01 (16 hex of the content id, "-", 8
// hex of SHA-256(out dir)), so that a daemon upgraded with unfinished
// downloads moves their records to record_stem instead of dropping them.
inline std::string legacy_record_stem(const config& cfg, const std::string& id_hex,
                                      const std::string& out_dir) {
  return hashed_stem(cfg, id_hex, out_dir, 4);
}

} // namespace p2p
