#pragma once
// Where a download keeps its resume state: <state>/downloads/<stem>.json and
// <stem>.manifest, with stem = first 16 hex of the content id + "-" + 8 hex of
// SHA-256(out_dir), so one file downloaded into two directories has two records.
#include <string>

#include "config/config.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace p2p {

inline std::string downloads_dir(const config& cfg) {
  return join_path(cfg.state_dir, "downloads");
}

inline std::string record_stem(const config& cfg, const std::string& id_hex,
                               const std::string& out_dir) {
  auto d = sha256(out_dir.data(), out_dir.size());
  return join_path(downloads_dir(cfg),
                   id_hex.substr(0, 16) + "-" + to_hex(d.data(), 4));
}

} // namespace p2p
