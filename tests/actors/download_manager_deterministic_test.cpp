// download_manager on the deterministic scheduler: what it refuses to start,
// how it tracks a download from queued to its end, clear, and the resume of
// a stopped download by the next manager on the same state dir.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <cstdio>

#include "config/defaults.hpp"
#include "tests/actors/lan_fixture.hpp"

using namespace p2p;
using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

const fake_file& song() {
  static const fake_file f{"song.ogg", 6 * 4096, 7};
  return f;
}

// The control channel's code of a refusal ("not_found", "exists", ...).
std::string code_of(const caf::expected<download_info>& res) {
  REQUIRE_FALSE(res);
  return describe(res.error()).first;
}

} // namespace

TEST_CASE("download_manager refuses a download it cannot start and starts nothing",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  fake_file other{"song.ogg", 4096, 8}; // same name, other content
  fx.add_seeder(1, {&song()});
  CHECK(code_of(fx.download("nothing.bin")) == "not_found");
  fx.add_seeder(2, {&other});
  CHECK(code_of(fx.download("song.ogg")) == "ambiguous");
  download_request rel;
  rel.id_hex = song().id_hex;
  rel.out_dir = "relative/dir";
  CHECK(code_of(fx.d.ask<download_info>(fx.manager, download_atom::value, rel))
        == "bad_request");
  write_file(fx.out_dir() + "/taken.bin", "mine");
  fake_file taken{"taken.bin", 4096, 9};
  fx.add_seeder(3, {&taken});
  CHECK(code_of(fx.download("taken.bin")) == "exists");
  CHECK(read_whole(fx.out_dir() + "/taken.bin") == "mine");
  CHECK(fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value).empty());
  CHECK(fx.lan->fetchers.empty());
}

TEST_CASE("download_manager refuses a second download into the same file",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  fx.add_seeder(1, {&song()});
  auto first = fx.download(song().name);
  REQUIRE(first);
  CHECK(code_of(fx.download(song().name, true)) == "exists");
  CHECK(fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value).size() == 1);
}

TEST_CASE("download_manager answers queued, then tracks the download to complete and clears it",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  auto a = fx.add_seeder(1, {&song()});
  auto info = fx.download(song().name);
  REQUIRE(info);
  CHECK(info->state == dl_state::queued);
  CHECK(info->key == 1);
  CHECK(info->size == song().data.size());
  CHECK(info->out_path == fx.out_dir() + "/" + song().name);
  auto& f = fx.lan->latest(a);
  fx.ready(f);
  fx.deliver(f, f.fetched.at(0), song().chunk(f.fetched.at(0)));
  auto running = fx.reported(info->key);
  CHECK(running.state == dl_state::running);
  CHECK(running.bytes_done == 4096);
  // Nothing to clear while it runs.
  CHECK(fx.d.get<std::vector<download_info>>(fx.manager, clear_atom::value).empty());
  fx.serve(song());
  auto done = fx.status(info->key);
  CHECK(done.state == dl_state::complete);
  CHECK(done.bytes_done == song().data.size());
  auto cleared = fx.d.get<std::vector<download_info>>(fx.manager, clear_atom::value);
  REQUIRE(cleared.size() == 1);
  CHECK(cleared[0].key == info->key);
  CHECK(fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value).empty());
  CHECK(read_whole(info->out_path) == song().data);
  // The next download gets the next key.
  REQUIRE(std::remove(info->out_path.c_str()) == 0);
  auto again = fx.download(song().name);
  REQUIRE(again);
  CHECK(again->key == 2);
}

TEST_CASE("a stopped download resumes with its verified chunks under the next manager",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  auto a = fx.add_seeder(1, {&song()});
  auto info = fx.download(song().name);
  REQUIRE(info);
  auto& f1 = fx.lan->latest(a);
  fx.ready(f1);
  auto got = f1.fetched; // delivered before the stop
  REQUIRE(got.size() == 2);
  for (auto i : got)
    fx.deliver(f1, i, song().chunk(i));
  // The daemon stops: the download saves its record and ends.
  CHECK(fx.d.get<bool>(fx.manager, stop_atom::value));
  CHECK(f1.stopped);
  // A new manager on the same state dir resumes it; the seeders come from
  // the catalog at the download's next seeder poll.
  fx.start_manager();
  auto resumed = fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value);
  REQUIRE(resumed.size() == 1);
  CHECK(resumed[0].name == song().name);
  // The resume check (the part file's unrecorded chunks hashed in a detached
  // actor: a real thread, outside the test clock) ends before the transfer
  // begins; here the two chunks are recorded, the other two never arrived.
  fx.d.run_until([&] { return fx.status(resumed[0].key).state != dl_state::queued; },
                 std::chrono::seconds(10));
  REQUIRE(fx.status(resumed[0].key).state == dl_state::running);
  fx.d.advance(std::chrono::milliseconds(defaults::seeder_poll_interval_ms));
  REQUIRE(fx.lan->opened(a) == 2);
  auto& f2 = fx.lan->latest(a);
  fx.ready(f2);
  CHECK(f2.fetched.size() == 2);
  for (auto i : got) // not fetched again
    CHECK(std::find(f2.fetched.begin(), f2.fetched.end(), i) == f2.fetched.end());
  CHECK(fx.status(resumed[0].key).bytes_done == 2 * 4096);
  fx.serve(song());
  CHECK(fx.status(resumed[0].key).state == dl_state::complete);
  CHECK(read_whole(info->out_path) == song().data);
}

TEST_CASE("a resume record a power cut left empty or torn is dropped with its manifest and "
          "starts nothing",
          "[download_manager][deterministic][durability]") {
  lan_fixture fx;
  auto dir = fx.cfg.state_dir + "/downloads";
  auto stem = dir + "/0123456789abcdef-01234567";
  auto text = GENERATE(std::string(), std::string("{\n  \"chunk_size\": 4096,\n  \"chu"));
  write_file(stem + ".json", text);
  write_file(stem + ".manifest", "");
  fx.start_manager();
  CHECK(fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value).empty());
  CHECK(std::filesystem::is_empty(dir));
}

TEST_CASE("a download whose first record outlived its manifest in a power cut asks the "
          "seeders again and completes",
          "[download_manager][deterministic][durability]") {
  lan_fixture fx;
  auto a = fx.add_seeder(1, {&song()});
  auto info = fx.download(song().name);
  REQUIRE(info);
  // Stopped before any chunk: the record (no chunk) and the manifest stay.
  CHECK(fx.d.get<bool>(fx.manager, stop_atom::value));
  auto dir = fx.cfg.state_dir + "/downloads";
  size_t manifests = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".manifest") {
      write_file(e.path().string(), ""); // its data never reached the disk
      ++manifests;
    }
  REQUIRE(manifests == 1);
  fx.start_manager();
  auto resumed = fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value);
  REQUIRE(resumed.size() == 1);
  // The record is discarded: the catalog's answer at the first tick brings
  // the seeder, the second tick asks it for the manifest again.
  fx.d.advance(std::chrono::milliseconds(2 * defaults::download_tick_ms));
  REQUIRE(fx.lan->opened(a) == 2);
  fx.ready(fx.lan->latest(a));
  fx.serve(song());
  CHECK(fx.status(resumed[0].key).state == dl_state::complete);
  CHECK(read_whole(info->out_path) == song().data);
  CHECK(std::filesystem::is_empty(dir));
}

TEST_CASE("download_manager runs at most max_active_downloads at once, the others wait "
          "queued and start, oldest first, as running ones end",
          "[download_manager][deterministic][slots]") {
  // Without the limit, 1,000 files downloaded at once opened a connection per
  // file to each seeder, which refused those beyond its per-address limit.
  lan_fixture fx;
  const size_t n = defaults::max_active_downloads + 4;
  std::vector<fake_file> files; // the same bytes under n names: one chunk each
  files.reserve(n);
  std::vector<const fake_file*> offered;
  for (size_t k = 0; k < n; ++k) {
    files.emplace_back("f" + std::to_string(k) + ".bin", 4096, 21);
    offered.push_back(&files.back());
  }
  fx.add_seeder(1, offered);
  std::vector<uint64_t> keys;
  for (auto& f : files) {
    auto info = fx.download(f.name);
    REQUIRE(info);
    CHECK(info->state == dl_state::queued);
    keys.push_back(info->key);
  }
  REQUIRE(fx.lan->fetchers.size() == defaults::max_active_downloads);
  for (size_t k = 0; k < defaults::max_active_downloads; ++k)
    CHECK(fx.lan->fetchers[k]->owner != nullptr);
  // The waiting ones are listed queued meanwhile.
  for (size_t k = defaults::max_active_downloads; k < n; ++k)
    CHECK(fx.status(keys[k]).state == dl_state::queued);
  size_t readied = 0;
  for (int round = 0; round < 10 && readied < fx.lan->fetchers.size(); ++round) {
    size_t open = 0;
    for (auto& fe : fx.lan->fetchers)
      open += fe->stopped ? 0 : 1;
    CHECK(open <= defaults::max_active_downloads);
    for (; readied < fx.lan->fetchers.size(); ++readied)
      fx.ready(*fx.lan->fetchers[readied]);
    fx.serve(files[0]);
  }
  CHECK(fx.lan->fetchers.size() == n);
  for (size_t k = 0; k < n; ++k) {
    INFO(files[k].name);
    CHECK(fx.status(keys[k]).state == dl_state::complete);
    CHECK(read_whole(fx.out_dir() + "/" + files[k].name) == files[k].data);
  }
}

TEST_CASE("download_manager answers a wait the moment the download ends, and at once after",
          "[download_manager][deterministic]") {
  // `download -w` answered at the control server's next 250 ms progress poll:
  // up to 12 % of a 2 s download in bench/ (issue 9).
  lan_fixture fx;
  auto a = fx.add_seeder(1, {&song()});
  CHECK(code_of(fx.d.ask<download_info>(fx.manager, wait_atom::value, uint64_t{42}))
        == "not_found");
  auto info = fx.download(song().name);
  REQUIRE(info);
  caf::scoped_actor probe{fx.d.sys(), true};
  auto rh = probe->request(fx.manager, caf::infinite, wait_atom::value, info->key);
  fx.d.run();
  CHECK(probe->mailbox().empty()); // queued: no answer yet
  auto& f = fx.lan->latest(a);
  fx.ready(f);
  fx.deliver(f, f.fetched.at(0), song().chunk(f.fetched.at(0)));
  fx.d.run();
  CHECK(probe->mailbox().empty()); // running: none yet
  fx.serve(song());
  REQUIRE_FALSE(probe->mailbox().empty());
  download_info ended;
  rh.receive([&](download_info& d) { ended = d; },
             [&](caf::error& e) { FAIL("wait failed: " << caf::to_string(e)); });
  CHECK(ended.state == dl_state::complete);
  CHECK(ended.bytes_done == song().data.size());
  // Asked after the end: answered at once.
  auto again = fx.d.ask<download_info>(fx.manager, wait_atom::value, info->key);
  REQUIRE(again);
  CHECK(again->state == dl_state::complete);
}

TEST_CASE("download_manager answers a wait on a queued download that is cancelled",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  fx.add_seeder(1, {&song()});
  auto info = fx.download(song().name);
  REQUIRE(info);
  caf::scoped_actor probe{fx.d.sys(), true};
  auto rh = probe->request(fx.manager, caf::infinite, wait_atom::value, info->key);
  fx.d.run();
  REQUIRE(probe->mailbox().empty());
  auto cancelled
    = fx.d.get<std::vector<download_info>>(fx.manager, cancel_atom::value, song().name);
  REQUIRE(cancelled.size() == 1);
  REQUIRE_FALSE(probe->mailbox().empty());
  download_info ended;
  rh.receive([&](download_info& d) { ended = d; },
             [&](caf::error& e) { FAIL("wait failed: " << caf::to_string(e)); });
  CHECK(ended.state == dl_state::cancelled);
}

TEST_CASE("download_manager answers a folder's wait when its last file ends, a file's wait "
          "when that file ends",
          "[download_manager][deterministic]") {
  lan_fixture fx;
  std::vector<fake_file> files; // one chunk each
  files.reserve(3);
  std::vector<const fake_file*> offered;
  for (int k = 0; k < 3; ++k) {
    files.emplace_back("album/t" + std::to_string(k) + ".bin", 4096, 30 + k);
    offered.push_back(&files.back());
  }
  fx.add_seeder(1, offered);
  auto folder = fx.download("album");
  REQUIRE(folder);
  auto keys = std::vector<uint64_t>{};
  for (const auto& d : fx.d.get<std::vector<download_info>>(fx.manager, status_atom::value))
    keys.push_back(d.key);
  REQUIRE(keys.size() == 3);
  caf::scoped_actor on_folder{fx.d.sys(), true};
  caf::scoped_actor on_first{fx.d.sys(), true};
  auto folder_wait = on_folder->request(fx.manager, caf::infinite, wait_atom::value, folder->key);
  auto first_wait = on_first->request(fx.manager, caf::infinite, wait_atom::value, keys[0]);
  fx.d.run();
  auto answered = [&](caf::scoped_actor& who, auto& handle) {
    if (who->mailbox().empty())
      return std::optional<download_info>{};
    download_info got;
    handle.receive([&](download_info& d) { got = d; },
                   [&](caf::error& e) { FAIL("wait failed: " << caf::to_string(e)); });
    return std::optional<download_info>{got};
  };
  REQUIRE(fx.lan->fetchers.size() == 3);
  for (auto& fe : fx.lan->fetchers)
    fx.ready(*fe);
  // The first file ends: its wait is answered, the folder's is not.
  auto& f0 = *fx.lan->fetchers[0];
  auto i0 = std::find_if(files.begin(), files.end(),
                         [&](const fake_file& f) { return f.id_hex == fx.status(keys[0]).id_hex; });
  REQUIRE(i0 != files.end());
  fx.deliver(f0, 0, i0->chunk(0));
  auto first = answered(on_first, first_wait);
  REQUIRE(first);
  CHECK(first->state == dl_state::complete);
  CHECK_FALSE(answered(on_folder, folder_wait));
  // The second is cancelled, the third completes: now the folder's wait is
  // answered, with the first failure's reason.
  fx.d.get<std::vector<download_info>>(fx.manager, cancel_atom::value,
                                       fx.status(keys[1]).name);
  CHECK_FALSE(answered(on_folder, folder_wait));
  fx.serve(files[0], [&](const fake_lan::fetcher& f, uint32_t) {
    for (auto& x : files)
      if (x.id_hex == fx.status(keys[2]).id_hex && &f == fx.lan->fetchers[2].get())
        return x.chunk(0);
    return std::string{};
  });
  auto whole = answered(on_folder, folder_wait);
  REQUIRE(whole);
  CHECK(whole->state == dl_state::cancelled);
  CHECK(fx.status(keys[2]).state == dl_state::complete);
}
