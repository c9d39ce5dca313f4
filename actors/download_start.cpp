// download, start-up: from a resume record that matches its part file, or
// from a manifest asked of the seeders in rounds (storage/manifest_rounds.hpp)
// and saved with a fresh part file. Then begin_transfer (actors/download.cpp).
#include <algorithm>
#include <chrono>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/download_files.hpp"
#include "actors/download_state.hpp"
#include "storage/fs.hpp"
#include "storage/resume.hpp"

namespace p2p::download_detail {

namespace {

void on_manifest(self_ptr self, const std::vector<char>& bytes) {
  auto& st = self->state;
  auto m = parse_manifest(bytes.data(), bytes.size());
  if (!m)
    return fail(self, "received an unreadable manifest");
  if (st.p.size != m->size) {
    if (!st.resumed)
      return fail(self, "the manifest says " + std::to_string(m->size) + " bytes, the catalog "
                          + std::to_string(st.p.size));
    // The size came from a discarded resume record; the manifest hashes to the
    // content id, so its size is the file's.
    spdlog::info("download {}: size {} from the manifest (the record said {})", st.p.name,
                 m->size, st.p.size);
    st.p.size = m->size;
  }
  st.man = std::move(*m);
  st.manifest_bytes = bytes; // saved with the first record (save_record)
  // A folder's file "DIR/sub/file": its folders under -o, made only now that
  // the manifest is verified (a hostile offer leaves nothing behind).
  auto parent = st.final_path.substr(0, st.final_path.rfind('/'));
  if (auto err = make_dirs(parent); !err.empty())
    return fail(self, "cannot create " + parent + ": " + err);
  if (auto err = st.part.create(st.man->size); !err.empty())
    return fail(self, err);
  st.picker.emplace(make_picker(st.man->chunk_count(), st.man->chunk_size));
  st.dirty = true;
  // The record (and manifest) at once, unsynced (it vouches for nothing): a
  // daemon crash from here on resumes the download. Not for a file of one
  // chunk: it has no verified chunks to keep, and most end before the next
  // save (resume_save_interval_ms) creates them; creating and removing two
  // files per small download was ~30 % of the downloader's CPU (issue 9).
  if (st.man->chunk_count() > 1)
    save_record(self);
  begin_transfer(self);
}

// Carries out the manifest start-up's step: a peer_query to one seeder, or
// the end of trying (storage/manifest_rounds.hpp says whom and when).
void manifest_step(self_ptr self, manifest_rounds::step step) {
  auto& st = self->state;
  if (step.what == manifest_rounds::step::kind::give_up)
    return fail(self, step.reason);
  if (step.what != manifest_rounds::step::kind::ask || st.ended || st.man)
    return;
  auto q = st.links.query(self->system(), step.to.host, step.to.port, st.self_id.peer_id,
                          defaults::connect_timeout_ms);
  self->request(q, std::chrono::milliseconds(defaults::connect_timeout_ms * 2), manifest_atom::value,
                st.p.id_hex)
    .then(
      [=](const std::vector<char>& bytes) {
        auto& st = self->state;
        st.rounds.answered();
        if (!st.ended && !st.man) // else another seeder answered first
          on_manifest(self, bytes);
      },
      [=](const caf::error& err) {
        auto& st = self->state;
        if (st.ended || st.man)
          return;
        auto [code, msg] = describe(err);
        manifest_step(self, st.rounds.failed(*st.seeders, msg.empty() ? code : msg,
                                               self->clock().now()));
      });
}

// The resume check's thread: one request, answered with the chunk indexes
// found intact, then it quits. `job` names the download in the log (and a
// function actor needs an argument: see share_registry.cpp's hasher).
caf::behavior resume_checker(caf::event_based_actor* self, std::string job,
                             std::string part_path, std::shared_ptr<const manifest> man,
                             std::vector<bool> have, std::shared_ptr<std::atomic<bool>> stop) {
  return {
    [=](hash_atom) -> std::vector<uint32_t> {
      std::string err;
      auto found = verify_unrecorded(part_path, *man, have, *stop, err);
      if (!err.empty())
        spdlog::warn("download {}: resume check stopped: {}", job, err);
      self->quit();
      return found;
    },
  };
}

} // namespace

void check_unrecorded(self_ptr self) {
  auto& st = self->state;
  auto have = st.picker->bitmap();
  auto unrecorded = std::count(have.begin(), have.end(), false);
  if (unrecorded == 0)
    return begin_transfer(self);
  auto t0 = std::chrono::steady_clock::now(); // wall time, for the log
  auto checker = self->spawn<caf::detached>(resume_checker, st.p.name, st.part.path(),
                                            std::make_shared<const manifest>(*st.man),
                                            std::move(have), st.stop_checking);
  self->request(checker, caf::infinite, hash_atom::value)
    .then(
      [=](const std::vector<uint32_t>& found) {
        auto& st = self->state;
        if (st.ended)
          return;
        for (auto i : found)
          if (!st.picker->have(i)) {
            st.picker->mark_have(i);
            st.bytes_done += st.man->chunk_length(i);
          }
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        spdlog::info("download {}: {} of {} unrecorded chunks were on disk already "
                     "(checked in {} ms)",
                     st.p.name, found.size(), unrecorded, ms.count());
        if (!found.empty()) {
          st.dirty = true;
          save_record(self);
        }
        if (!st.ended)
          begin_transfer(self);
      },
      [=](const caf::error& err) {
        spdlog::warn("download {}: resume check failed: {}", self->state.p.name,
                     caf::to_string(err));
        if (!self->state.ended)
          begin_transfer(self);
      });
}

bool load_resume(self_ptr self) {
  auto& st = self->state;
  std::string why;
  auto files = load_resume_files(st.stem, st.p.id_hex, why);
  // The stem hashes the final path (download_files.hpp); a record of another
  // file (a 32-bit collision) must not vouch for this part file's chunks.
  if (files && (files->rec.name != st.p.name || files->rec.out_dir != st.p.req.out_dir))
    why = "it belongs to " + join_path(files->rec.out_dir, files->rec.name);
  st.resumed = files || !why.empty();
  if (files && why.empty())
    why = st.part.open_existing(files->man.size);
  if (!why.empty()) {
    spdlog::warn("download {}: discarding resume record: {}", st.p.name, why);
    remove_record(self);
    return false;
  }
  if (!files)
    return false;
  st.man = std::move(files->man);
  st.recorded = true;
  st.p.size = st.man->size;
  st.picker.emplace(make_picker(st.man->chunk_count(), st.man->chunk_size));
  // A record that vouches for chunks was saved after its manifest was synced.
  st.manifest_synced = std::find(files->rec.have.begin(), files->rec.have.end(), true)
                       != files->rec.have.end();
  for (uint32_t i = 0; i < files->rec.have.size(); ++i)
    if (files->rec.have[i]) {
      st.picker->mark_have(i);
      st.bytes_done += st.man->chunk_length(i);
    }
  spdlog::info("download {}: resuming with {} of {} chunks verified", st.p.name,
               st.picker->have_count(), st.man->chunk_count());
  return true;
}

void start_manifest(self_ptr self) {
  manifest_step(self, self->state.rounds.start(*self->state.seeders, self->clock().now()));
}

void tick_manifest(self_ptr self) {
  manifest_step(self, self->state.rounds.tick(*self->state.seeders, self->clock().now()));
}

} // namespace p2p::download_detail
