#pragma once
// What p2p-cli prints: sizes, rates, tables, the progress bar, JSON documents
// and error lines.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/size.hpp"

namespace p2p::cli {

// 1536 -> "1.5 KiB" (util/size.hpp: the daemon's messages use it too).
using p2p::format_size;

// Bytes per second as "3.2 MiB/s".
std::string format_rate(double bytes_per_second);

// Seconds as "0:42", "12:05" or "1:02:03"; "-" when unknown (negative/null).
std::string format_eta(double seconds);

// The first 12 hex digits of a content id.
std::string short_id(const std::string& id);

// Number of a JSON member, 0 when absent or not a number.
uint64_t json_u64(const nlohmann::json& obj, const char* key);
double json_double(const nlohmann::json& obj, const char* key, double fallback);
// String member, "" when absent or not a string.
std::string json_str(const nlohmann::json& obj, const char* key);
// A name, path or message member (JSON text of name_to_json) as a terminal
// may show it (printable_name): control bytes and invalid UTF-8 escaped, so
// one name is one line. "" when absent or not a string. Human output uses
// this for every name; --json prints the member as it came.
std::string json_name(const nlohmann::json& obj, const char* key);

// A plain-text table: a header row and aligned columns.
class table {
public:
  // `right_aligned` lists the column indexes to align right (numbers).
  table(std::vector<std::string> headers, std::vector<size_t> right_aligned = {});
  void add(std::vector<std::string> row);
  bool empty() const {
    return rows_.empty();
  }
  // The table as text, each line prefixed by `indent` and ended by '\n'
  // (no trailing blanks).
  std::string render(const std::string& indent = "") const;
  // render() on stdout.
  void print(const std::string& indent = "") const;

private:
  std::vector<std::string> headers_;
  std::vector<size_t> right_;
  std::vector<std::vector<std::string>> rows_;
};

// One-line progress bar on stderr for a download object D (DESIGN.md);
// redraws in place. Use only when stderr is a terminal.
class progress_bar {
public:
  void update(const nlohmann::json& download);
  // Ends the line so later output starts on a fresh one.
  void finish();

private:
  bool drawn_ = false;
};

// One line describing a download D's progress: "45.2%  9.0 MiB / 20.0 MiB  3.2 MiB/s  ETA 0:03";
// an ended one shows its state instead of rate and ETA ("... 20.0 MiB  complete"),
// or nothing there when `with_end_state` is false (a caller that printed the state).
std::string progress_text(const nlohmann::json& download, bool with_end_state = true);

// The one of `candidates` closest to `typed` by edit distance (insertions,
// deletions, substitutions and swaps of neighbours each count 1), when it is
// at most 2 edits away (1 for words of up to 3 letters); "" otherwise.
// "sttaus" -> "status", "dl" -> "".
std::string closest_word(const std::string& typed, const std::vector<std::string>& candidates);

// `text` with every run of exactly 64 hex digits (a full content id) cut to
// its short_id(), for messages meant for people.
std::string shorten_ids(const std::string& text);

// The entries of `items` (shares, downloads or LAN files: objects with "name"
// and "id") that `target` names: by name, or by a prefix of at least 4 hex
// digits of the content id. Several entries with one id count once.
std::vector<nlohmann::json> match_by_name_or_id(const nlohmann::json& items,
                                                const std::string& target);

// "'movie.mkv' matches 2: 3f2a9c01aabb (20.0 MiB, /a/movie.mkv), ..." for
// the `matches` (objects with "id", "size" and optionally `where_key`).
std::string ambiguous_text(const std::string& target, const std::vector<nlohmann::json>& matches,
                           const char* where_key);

// The single JSON document of --json mode, on stdout.
void print_json(const nlohmann::json& doc);

// An error: "p2p-cli: <message>" on stderr, the message escaped with
// printable_name; with --json also {"error":{"code","message"}} on stdout,
// the message as name_to_json text. `message` is bytes (it may quote names).
void print_error(bool json, const std::string& code, const std::string& message);

} // namespace p2p::cli
