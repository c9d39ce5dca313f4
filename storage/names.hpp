#pragma once
// File names are bytes (Linux allows any byte but '/' and NUL); names that
// come from peers are untrusted. This file holds the naming rules: how a
// name travels in JSON, how it is shown to a human, and which name may be
// created inside an output directory.
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

// -- JSON text of names (docs/protocol.md, "Names in JSON") --------------------
// JSON strings must be UTF-8, file names need not be. Every name, path and
// message that enters JSON goes through name_to_json, and every such string
// read back through name_from_json; the pair is lossless for any bytes:
//  - a backslash becomes two backslashes ("a\b" -> "a\\b" as text),
//  - each byte that is not part of a valid UTF-8 sequence becomes "\xHH"
//    (lower-case hex), so Latin-1 "\xe9t\xe9.txt" travels as the 12
//    characters `\xe9t\xe9.txt`,
//  - everything else (valid UTF-8, control characters included) is copied;
//    JSON's own escaping then takes care of quotes and control characters.
std::string name_to_json(std::string_view bytes);
// The bytes `text` stands for; nullopt when it holds a backslash that starts
// neither "\\" nor "\x" + two hex digits.
std::optional<std::string> name_from_json(std::string_view text);

// A name as a terminal may show it (ls, status, progress, errors): like
// name_to_json, and additionally control characters (C0, DEL and the C1
// range U+0080..U+009F) become "\xHH" of their bytes, so a name can neither
// move the cursor, colour the screen nor start a new line.
std::string printable_name(std::string_view bytes);

// True when `s` is valid UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF).
bool is_utf8(std::string_view s);

// A name safe to create inside an output directory: no '/', '\\', NUL or
// control characters (each replaced by '_'), not "." or "..", not empty,
// at most 255 bytes (longer names are cut, keeping UTF-8 sequences whole).
// Bytes that are not UTF-8 are kept: names are bytes (issue 7).
// nullopt when nothing usable remains.
std::optional<std::string> sanitize_name(std::string_view name);

// A relative path safe to create inside an output directory, for the names
// of a shared folder's files ("DIR/sub/file"): each '/'-separated component
// sanitised as by sanitize_name, empty components dropped. nullopt when a
// component is "." or ".." or nothing usable remains, so nothing is ever
// written outside the output directory.
std::optional<std::string> sanitize_path(std::string_view name);

// The part file that stands for `final_path` while it downloads:
// final_path + ".part", or, when that last component would exceed 255 bytes
// (NAME_MAX), the component cut on a UTF-8 boundary + "~" + 16 hex digits of
// the SHA-256 of the whole component + ".part", so it fits and two long names
// do not meet.
std::string part_path_of(const std::string& final_path);

} // namespace p2p
