#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "storage/resume.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/hex.hpp"

using namespace p2p;
using nlohmann::json;

namespace {

resume_record sample() {
  resume_record r;
  r.id_hex = std::string(64, 'a');
  r.name = "movie.mkv";
  r.out_dir = "/home/u/Downloads";
  r.size = 10 * 4096 + 1; // 11 chunks
  r.chunk_size = 4096;
  r.overwrite = true;
  r.seed = false;
  r.have.assign(11, false);
  r.have[0] = r.have[3] = r.have[10] = true;
  return r;
}

} // namespace

TEST_CASE("bitmap hex layout", "[resume]") {
  std::vector<bool> bits(9, false);
  bits[0] = true; // bit 7 of byte 0
  bits[7] = true; // bit 0 of byte 0
  bits[8] = true; // bit 7 of byte 1
  CHECK(bitmap_to_hex(bits) == "8180");
  CHECK(bitmap_from_hex("8180", 9) == bits);
  CHECK(bitmap_to_hex({}) == "");
  CHECK(bitmap_from_hex("", 0) == std::vector<bool>{});

  CHECK_FALSE(bitmap_from_hex("81", 9));     // too short
  CHECK_FALSE(bitmap_from_hex("818000", 9)); // too long
  CHECK_FALSE(bitmap_from_hex("81zz", 9));   // not hex
  CHECK_FALSE(bitmap_from_hex("81c0", 9));   // padding bit set
  CHECK(bitmap_from_hex("FF80", 9));         // upper case is fine
}

TEST_CASE("resume record round trip", "[resume]") {
  auto r = sample();
  auto text = to_json(r);
  auto back = resume_from_json(text);
  REQUIRE(back);
  CHECK(back->id_hex == r.id_hex);
  CHECK(back->name == r.name);
  CHECK(back->out_dir == r.out_dir);
  CHECK(back->size == r.size);
  CHECK(back->chunk_size == r.chunk_size);
  CHECK(back->overwrite == r.overwrite);
  CHECK(back->seed == r.seed);
  CHECK(back->have == r.have);

  SECTION("a name and out dir that are not UTF-8") {
    auto e = sample();
    e.name = "\xe9t\xe9 \\ x.txt";
    e.out_dir = "/home/\xff";
    auto b = resume_from_json(to_json(e));
    REQUIRE(b);
    CHECK(b->name == e.name);
    CHECK(b->out_dir == e.out_dir);
  }

  SECTION("empty file") {
    auto e = sample();
    e.size = 0;
    e.have.clear();
    auto b = resume_from_json(to_json(e));
    REQUIRE(b);
    CHECK(b->have.empty());
  }
}

TEST_CASE("malformed resume records", "[resume]") {
  auto good = json::parse(to_json(sample()));
  CHECK(resume_from_json(good.dump()));
  CHECK_FALSE(resume_from_json(""));
  CHECK_FALSE(resume_from_json("{"));
  CHECK_FALSE(resume_from_json("[]"));
  CHECK_FALSE(resume_from_json("null"));
  for (auto key : {"id", "name", "out_dir", "size", "chunk_size", "have", "chunks"}) {
    INFO(key);
    auto j = good;
    j.erase(key);
    CHECK_FALSE(resume_from_json(j.dump()));
    j = good;
    j[key] = json::array();
    CHECK_FALSE(resume_from_json(j.dump()));
  }
  auto with = [&](const char* key, json v) {
    auto j = good;
    j[key] = v;
    return resume_from_json(j.dump());
  };
  CHECK_FALSE(with("overwrite", "yes"));
  CHECK_FALSE(with("seed", 1));
  {
    auto j = good; // a record from before --no-seed: it seeds
    j.erase("seed");
    auto old = resume_from_json(j.dump());
    REQUIRE(old);
    CHECK(old->seed);
  }
  CHECK_FALSE(with("id", "abc"));                  // not 32 bytes
  CHECK_FALSE(with("id", std::string(64, 'g')));   // not hex
  CHECK_FALSE(with("name", ""));
  CHECK_FALSE(with("size", -1));
  CHECK_FALSE(with("chunk_size", 5000));
  CHECK_FALSE(with("chunk_size", uint64_t{1} << 33));
  CHECK_FALSE(with("chunks", 12));                 // does not match size
  CHECK_FALSE(with("size", 4096 * 5));             // bitmap length mismatch
  CHECK_FALSE(with("have", "00"));                 // bitmap too short
  CHECK_FALSE(with("have", "ffff"));               // padding bits set
}

TEST_CASE("load_resume_files checks record and manifest against the content id",
          "[resume]") {
  p2p::test::temp_dir dir;
  auto src = dir.write("src.bin", std::string(100000, 'q'));
  std::string err;
  auto m = build_manifest(src, 16384, err);
  REQUIRE(m);
  auto cid = content_id_of(*m);
  auto id = to_hex(cid.data(), cid.size());
  auto stem = dir.file("rec");
  std::string why = "x";
  CHECK_FALSE(load_resume_files(stem, id, why));
  CHECK(why.empty()); // no record: nothing to discard

  resume_record r;
  r.id_hex = id;
  r.name = "src.bin";
  r.out_dir = dir.path();
  r.size = m->size;
  r.chunk_size = m->chunk_size;
  r.have.assign(m->chunk_count(), false);
  r.have[2] = true;
  p2p::test::write_file(stem + ".json", "{not json");
  CHECK_FALSE(load_resume_files(stem, id, why));
  CHECK(why == "unreadable");
  p2p::test::write_file(stem + ".json", to_json(r));
  CHECK_FALSE(load_resume_files(stem, id, why));
  CHECK(why == "manifest missing or unreadable");
  auto bytes = serialize(*m);
  p2p::test::write_file(stem + ".manifest", std::string(bytes.begin(), bytes.end()));
  CHECK_FALSE(load_resume_files(stem, std::string(64, 'b'), why));
  CHECK(why == "content id does not match");
  auto ok = load_resume_files(stem, id, why);
  REQUIRE(ok);
  CHECK(why.empty());
  CHECK(ok->man.size == 100000);
  CHECK(ok->rec.have[2]);
  // What a power cut can leave of files written without fsync (the record
  // and manifest of a download with no chunk yet): empty or cut short.
  auto text = to_json(r);
  for (auto torn : {std::string(), text.substr(0, text.size() / 2)}) {
    p2p::test::write_file(stem + ".json", torn);
    CHECK_FALSE(load_resume_files(stem, id, why));
    CHECK(why == "unreadable");
  }
  p2p::test::write_file(stem + ".json", text);
  for (auto torn : {std::string(), std::string(bytes.begin(), bytes.end() - 1)}) {
    p2p::test::write_file(stem + ".manifest", torn);
    CHECK_FALSE(load_resume_files(stem, id, why));
    CHECK(why == "manifest missing or unreadable");
  }
  p2p::test::write_file(stem + ".manifest", std::string(bytes.begin(), bytes.end()));
  REQUIRE(load_resume_files(stem, id, why));
  r.have.assign(m->chunk_count() + 1, false);
  r.size = m->size + 16384;
  p2p::test::write_file(stem + ".json", to_json(r));
  CHECK_FALSE(load_resume_files(stem, id, why));
  CHECK(why == "size does not match the manifest");
}

TEST_CASE("verify_unrecorded keeps the unrecorded chunks that are on disk intact",
          "[resume][verify_unrecorded]") {
  p2p::test::temp_dir dir;
  // 7 chunks of 16 KiB, the last one short; every chunk different.
  std::string data;
  for (int i = 0; i < 6 * 16384 + 1000; ++i)
    data.push_back(static_cast<char>((i * 7919) >> 5));
  auto src = dir.write("src.bin", data);
  std::string err;
  auto m = build_manifest(src, 16384, err);
  REQUIRE(m);
  REQUIRE(m->chunk_count() == 7);
  // The part file: chunks 0, 1 (recorded), 3, 6 (written, not recorded), 4
  // half written (a kill mid-chunk), 2 and 5 never written (zeros).
  std::string part(data.size(), '\0');
  for (uint32_t i : {0u, 1u, 3u, 6u})
    part.replace(m->chunk_offset(i), m->chunk_length(i), data, m->chunk_offset(i),
                 m->chunk_length(i));
  part.replace(m->chunk_offset(4), 8000, data, m->chunk_offset(4), 8000);
  auto path = dir.write("x.part", part);
  std::vector<bool> have(7, false);
  have[0] = have[1] = true;
  std::atomic<bool> stop{false};

  auto found = verify_unrecorded(path, *m, have, stop, err);
  CHECK(err.empty());
  CHECK(found == std::vector<uint32_t>{3, 6}); // recorded ones are not re-read

  SECTION("a recorded chunk is never reported, even when intact") {
    have.assign(7, true);
    CHECK(verify_unrecorded(path, *m, have, stop, err).empty());
  }
  SECTION("stop ends the scan at once") {
    stop = true;
    CHECK(verify_unrecorded(path, *m, have, stop, err).empty());
    CHECK(err.empty());
  }
  SECTION("a part file shorter than the manifest: what was found, and why it stopped") {
    p2p::test::write_file(path, part.substr(0, m->chunk_offset(5)));
    found = verify_unrecorded(path, *m, have, stop, err);
    CHECK(found == std::vector<uint32_t>{3});
    CHECK(err.find("file shorter than the manifest") != std::string::npos);
  }
  SECTION("no part file") {
    found = verify_unrecorded(dir.file("missing.part"), *m, have, stop, err);
    CHECK(found.empty());
    CHECK(err.find("cannot open") != std::string::npos);
  }
}
