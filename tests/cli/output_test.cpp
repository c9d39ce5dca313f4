#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "cli/output.hpp"

using namespace p2p::cli;
using nlohmann::json;

TEST_CASE("format_size picks the unit and never prints 1024.0 of one", "[cli][output]") {
  CHECK(format_size(0) == "0 B");
  CHECK(format_size(12) == "12 B");
  CHECK(format_size(1023) == "1023 B");
  CHECK(format_size(1024) == "1.0 KiB");
  CHECK(format_size(1536) == "1.5 KiB");
  CHECK(format_size(20 * 1024 * 1024) == "20.0 MiB");
  CHECK(format_size(1024 * 1024 - 1) == "1.0 MiB"); // not "1024.0 KiB"
  CHECK(format_size(uint64_t{1} << 40) == "1.0 TiB");
  CHECK(format_size(std::numeric_limits<uint64_t>::max()) == "16.0 EiB");
}

TEST_CASE("format_rate: non-positive and NaN rates are 0 B/s", "[cli][output]") {
  CHECK(format_rate(3.2 * 1024 * 1024) == "3.2 MiB/s");
  CHECK(format_rate(0) == "0 B/s");
  CHECK(format_rate(-5) == "0 B/s");
  CHECK(format_rate(std::nan("")) == "0 B/s");
}

TEST_CASE("format_eta: m:ss, h:mm:ss, '-' when unknown", "[cli][output]") {
  CHECK(format_eta(0) == "0:00");
  CHECK(format_eta(42) == "0:42");
  CHECK(format_eta(59.6) == "1:00");
  CHECK(format_eta(725) == "12:05");
  CHECK(format_eta(3723) == "1:02:03");
  CHECK(format_eta(-1) == "-");
  CHECK(format_eta(std::nan("")) == "-");
  CHECK(format_eta(std::numeric_limits<double>::infinity()) == "-");
}

TEST_CASE("short_id keeps 12 hex digits and copes with short ids", "[cli][output]") {
  CHECK(short_id("0123456789abcdef0123") == "0123456789ab");
  CHECK(short_id("abc") == "abc");
  CHECK(short_id("") == "");
}

TEST_CASE("json accessors fall back on missing, mistyped and negative members",
          "[cli][output]") {
  json d = {{"n", 7},   {"neg", -3},      {"f", 2.9},   {"big", UINT64_MAX},
            {"s", "x"}, {"nul", nullptr}, {"arr", {1}}, {"negf", -1.5},
            {"hugef", 1e300}};
  CHECK(json_u64(d, "n") == 7);
  CHECK(json_u64(d, "neg") == 0);
  CHECK(json_u64(d, "f") == 2);
  CHECK(json_u64(d, "negf") == 0);
  CHECK(json_u64(d, "big") == UINT64_MAX);
  CHECK(json_u64(d, "hugef") == UINT64_MAX);
  CHECK(json_u64(d, "s") == 0);
  CHECK(json_u64(d, "nul") == 0);
  CHECK(json_u64(d, "arr") == 0);
  CHECK(json_u64(d, "missing") == 0);
  CHECK(json_double(d, "f", -1) == 2.9);
  CHECK(json_double(d, "s", -1) == -1);
  CHECK(json_str(d, "s") == "x");
  CHECK(json_str(d, "n") == "");
  CHECK(json_str(d, "missing") == "");
}

TEST_CASE("table aligns columns by display width, right-aligns numbers, no trailing blanks",
          "[cli][output]") {
  table t({"NAME", "SIZE", "ID"}, {1});
  t.add({"a.bin", "1.0 KiB", "0123"});
  t.add({"héllo.txt", "12 B"}); // missing cells are empty; é is one column
  CHECK(t.render("  ") == "  NAME          SIZE  ID\n"
                          "  a.bin      1.0 KiB  0123\n"
                          "  héllo.txt     12 B\n");
  table empty({"A"});
  CHECK(empty.empty());
  CHECK(empty.render() == "A\n");
}

TEST_CASE("progress_text for running, finished-empty and garbage downloads",
          "[cli][output]") {
  json running = {{"size", 20 * 1024 * 1024}, {"bytes_done", 10 * 1024 * 1024},
                  {"rate_bps", 1024 * 1024},  {"eta_s", 10},
                  {"state", "running"}};
  CHECK(progress_text(running) == " 50.0%  10.0 MiB / 20.0 MiB  1.0 MiB/s  ETA 0:10");
  json empty_done = {{"size", 0}, {"bytes_done", 0}, {"state", "complete"}};
  CHECK(progress_text(empty_done) == "100.0%  0 B / 0 B  complete");
  json failed = {{"size", 2048}, {"bytes_done", 1024}, {"rate_bps", 0}, {"state", "failed"}};
  CHECK(progress_text(failed) == " 50.0%  1.0 KiB / 2.0 KiB  failed");
  // status prints the state before it: not twice
  CHECK(progress_text(failed, false) == " 50.0%  1.0 KiB / 2.0 KiB");
  CHECK(progress_text(running, false) == progress_text(running));
  json garbage = {{"size", "x"}, {"bytes_done", -4}, {"eta_s", "soon"}};
  CHECK(progress_text(garbage) == "  0.0%  0 B / 0 B  0 B/s  ETA -");
}

TEST_CASE("closest_word suggests a command within two edits, nothing farther",
          "[cli][output]") {
  std::vector<std::string> cmds{"share", "unshare", "scan", "ls", "peers", "download",
                                "cancel", "status", "clear"};
  CHECK(closest_word("sttaus", cmds) == "status");   // one swap
  CHECK(closest_word("stauts", cmds) == "status");   // one swap
  CHECK(closest_word("dowload", cmds) == "download"); // one deletion
  CHECK(closest_word("sl", cmds) == "ls");            // a swap in a short word
  CHECK(closest_word("xyzzy", cmds).empty());
  CHECK(closest_word("dl", cmds).empty());             // short words: one edit at most
  CHECK(closest_word("", cmds).empty());
  CHECK(closest_word("status", {}).empty());
}

TEST_CASE("shorten_ids cuts 64-hex runs only", "[cli][output]") {
  std::string id(64, 'a');
  CHECK(shorten_ids("no file with id " + id + " on the LAN")
        == "no file with id aaaaaaaaaaaa on the LAN");
  CHECK(shorten_ids(id) == "aaaaaaaaaaaa");
  CHECK(shorten_ids(id + "a") == id + "a"); // 65 digits: not an id
  CHECK(shorten_ids("deadbeef, cafe") == "deadbeef, cafe");
  CHECK(shorten_ids("") == "");
}

TEST_CASE("match_by_name_or_id: by name, by a 4+ digit id prefix, one per content id",
          "[cli][output]") {
  std::string a = "aaaa" + std::string(60, '1');
  std::string b = "aaab" + std::string(60, '2');
  json items = json::array({{{"name", "x.bin"}, {"id", a}, {"size", 3 * 1024 * 1024}},
                            {{"name", "x.bin"}, {"id", b}, {"size", 2048}},
                            {{"name", "x.bin"}, {"id", a}, {"size", 3 * 1024 * 1024}},
                            {{"name", "y.bin"}, {"id", b}}});
  CHECK(match_by_name_or_id(items, "x.bin").size() == 2);
  CHECK(match_by_name_or_id(items, "aaaa").size() == 1);
  CHECK(match_by_name_or_id(items, "aaa").empty());  // too short for an id prefix
  CHECK(match_by_name_or_id(items, "aaa").empty());
  CHECK(match_by_name_or_id(items, "aaab").size() == 1);
  CHECK(match_by_name_or_id(items, "zzzz").empty());
  CHECK(match_by_name_or_id(json("garbage"), "x.bin").empty());
  auto hits = match_by_name_or_id(items, "x.bin");
  CHECK(ambiguous_text("x.bin", hits, "path")
        == "'x.bin' matches 2: aaaa11111111 (3.0 MiB), aaab22222222 (2.0 KiB); "
           "name one by its short id");
}
