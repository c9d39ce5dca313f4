// download_manager: starts, tracks, persists and resumes downloads.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <map>
#include <set>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/crash_hook.hpp"
#include "config/defaults.hpp"
#include "actors/download_files.hpp"
#include "storage/fs.hpp"
#include "util/size.hpp"
#include "storage/names.hpp"
#include "storage/resume.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

constexpr auto ask_timeout = std::chrono::milliseconds(defaults::manager_ask_timeout_ms);
constexpr auto stop_timeout = std::chrono::milliseconds(defaults::download_stop_timeout_ms);

struct entry {
  download_info info;   // latest snapshot reported by the download
  download_actor actor; // null while it waits for a slot and once it ended
  std::optional<download_params> waiting; // set while it waits (state queued)
  uint64_t folder = 0;  // the folder download it belongs to; 0: none
};

// A folder download (`download -f DIR`): one download per file under DIR/.
struct folder {
  std::string name;     // DIR
  std::string out_path; // <out>/DIR
  std::vector<uint64_t> keys;
  size_t unfinished = 0; // of keys, not final yet
};

struct manager_state {
  static inline const char* name = "download_manager";
  config cfg;
  identity self_id;
  catalog_actor catalog;
  share_registry_actor registry; // for swarming; may be null (tests)
  peer_links links;              // passed on to each download
  std::map<uint64_t, entry> downloads;
  std::map<uint64_t, folder> folders; // keys from the same sequence as downloads
  uint64_t next_key = 1;
  bool stopping = false; // the daemon stops: no waiting download starts
  // wait_atom requests not answered yet, by download or folder key.
  std::multimap<uint64_t, caf::typed_response_promise<download_info>> enders;
  // Keys of the downloads waiting for a slot, oldest first, and how many have
  // an actor: a download that ends looks at these, not at every download
  // kept until `clear` (1,000 downloads each scanned the whole history, and
  // each answered wait copied every waiting one's status: bench/run.sh's
  // small files took longer run after run).
  std::set<uint64_t> queued;
  size_t running = 0;
};

using self_ptr = download_manager_actor::stateful_pointer<manager_state>;

bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Spawns the download actor of entry `e` (its params in e.waiting).
void spawn_entry(self_ptr self, entry& e) {
  auto& st = self->state;
  auto dl = spawn_download(self->system(), st.cfg, st.self_id, std::move(*e.waiting),
                           st.catalog, self, st.registry, st.links);
  e.waiting.reset();
  st.queued.erase(e.info.key);
  self->link_to(dl);
  e.actor = dl;
  ++st.running;
}

// Entry `e`'s actor has ended (or is being let go): it no longer counts.
void drop_actor(manager_state& st, entry& e) {
  if (e.actor) {
    e.actor = nullptr;
    --st.running;
  }
}

// Sets entry `e`'s status to `d`; its folder counts one unfinished file fewer
// when it becomes final.
void set_info(manager_state& st, entry& e, download_info d) {
  bool was_final = is_final(e.info);
  e.info = std::move(d);
  if (!was_final && is_final(e.info) && e.folder != 0)
    if (auto f = st.folders.find(e.folder); f != st.folders.end() && f->second.unfinished > 0)
      --f->second.unfinished;
}

// Starts waiting downloads, oldest first, while fewer than
// defaults::max_active_downloads run.
void start_waiting(self_ptr self) {
  auto& st = self->state;
  if (st.stopping)
    return;
  while (st.running < defaults::max_active_downloads && !st.queued.empty()) {
    auto key = *st.queued.begin();
    auto i = st.downloads.find(key);
    if (i == st.downloads.end() || !i->second.waiting) {
      st.queued.erase(st.queued.begin());
      continue;
    }
    spawn_entry(self, i->second);
  }
}

// Tracks a download for `params`: it starts at once when fewer than
// defaults::max_active_downloads run, else it waits (state queued) for one
// to end. Returns its first snapshot.
download_info launch(self_ptr self, download_params params) {
  auto& st = self->state;
  params.key = st.next_key++;
  download_info info;
  info.key = params.key;
  info.name = params.name;
  info.id_hex = params.id_hex;
  info.size = params.size;
  info.out_path = join_path(params.req.out_dir, params.name);
  info.state = dl_state::queued;
  spdlog::info("download {} ({}, {} bytes) into {}", params.name,
               params.id_hex.substr(0, 12), params.size, params.req.out_dir);
  auto& e = st.downloads[info.key] = entry{info, download_actor{}, std::move(params)};
  st.queued.insert(info.key);
  if (st.running < defaults::max_active_downloads)
    spawn_entry(self, e);
  return info;
}

// True when `name` lies under the folder name `dir` ("dir/...").
bool in_folder(const std::string& name, const std::string& dir) {
  return name.size() > dir.size() + 1 && name.compare(0, dir.size(), dir) == 0
         && name[dir.size()] == '/';
}

// Picks the files of the LAN that `req` names: the one file of that name
// (and id prefix), or, when no file has that name, every file under the
// folder of that name (one offer per name; an --id narrows it).
caf::expected<std::vector<file_offer>> choose(const download_request& req,
                                              const std::vector<file_offer>& files) {
  std::vector<file_offer> hits;
  std::vector<file_offer> under;
  for (const auto& f : files) {
    bool id_ok = req.id_hex.empty() || f.id_hex.compare(0, req.id_hex.size(), req.id_hex) == 0;
    if (!id_ok)
      continue;
    if (req.name.empty() || f.name == req.name)
      hits.push_back(f);
    else if (in_folder(f.name, req.name))
      under.push_back(f);
  }
  std::string what;
  if (!req.name.empty())
    what = "named " + req.name;
  if (!req.id_hex.empty())
    what += (what.empty() ? "with id " : " with id ") + req.id_hex;
  if (hits.empty() && !under.empty()) {
    // A folder: each name once (two seeders may offer different versions).
    std::vector<file_offer> out;
    for (auto& f : under) {
      if (!out.empty() && out.back().name == f.name)
        return make_error(ec::ambiguous, "folder " + req.name + " holds " + f.name
                                           + " in several versions; download it with --id");
      out.push_back(f);
    }
    return out;
  }
  if (hits.empty())
    return make_error(ec::not_found, "no file " + what
                                       + " on the LAN (run `p2p-cli scan`, then `ls`)");
  if (hits.size() > 1) {
    std::string ids;
    for (const auto& h : hits)
      ids += (ids.empty() ? "" : ", ") + h.id_hex.substr(0, 12) + " (" + format_size(h.size)
             + (h.size >= 1024 ? ", " + std::to_string(h.size) + " bytes" : "") + ")";
    return make_error(ec::ambiguous, std::to_string(hits.size()) + " files " + what
                                       + "; pick one with --id: " + ids);
  }
  return hits;
}

caf::expected<download_params> plan(self_ptr self, const download_request& req,
                                    const file_offer& f) {
  // A folder's file "DIR/sub/file" is created as <out>/DIR/sub/file.
  auto name = sanitize_path(f.name);
  if (!name)
    return make_error(ec::bad_request, "the file's name is unusable: " + f.name);
  if (req.out_dir.empty() || req.out_dir.front() != '/')
    return make_error(ec::bad_request, "out_dir must be an absolute path");
  // Its sub-folders are made once the manifest is verified (download_start),
  // so a download that fails before that leaves nothing under -o.
  auto out_path = join_path(req.out_dir, *name);
  for (const auto& [key, e] : self->state.downloads)
    if ((e.actor || e.waiting) && e.info.out_path == out_path)
      return make_error(ec::exists, "already downloading into " + out_path);
  if (!req.overwrite && path_exists(out_path))
    return make_error(ec::exists, out_path + " already exists (use --overwrite)");
  if (auto avail = free_space(req.out_dir); avail && *avail < f.size)
    return make_error(ec::io_error, "not enough space in " + req.out_dir + ": need "
                                      + std::to_string(f.size) + " bytes, "
                                      + std::to_string(*avail) + " free");
  download_params p;
  p.req = req;
  p.name = *name;
  p.id_hex = f.id_hex;
  p.size = f.size;
  p.seeders = f.seeders;
  return p;
}

// One download_info for a folder: sums of its files; running until every
// file ended, then complete when all completed, else failed (or cancelled)
// with the first file's reason.
download_info folder_info(const manager_state& st, uint64_t key, const folder& f) {
  download_info d;
  d.key = key;
  d.name = f.name;
  d.out_path = f.out_path;
  d.state = dl_state::complete;
  bool ended = true;
  for (auto k : f.keys) {
    auto i = st.downloads.find(k);
    if (i == st.downloads.end())
      continue;
    auto& x = i->second.info;
    d.size += x.size;
    d.bytes_done += x.bytes_done;
    d.rate_bps += x.rate_bps;
    if (!is_final(x))
      ended = false;
    else if (x.state != dl_state::complete && d.state == dl_state::complete) {
      d.state = x.state;
      d.error = x.name + ": " + (x.error.empty() ? std::string(to_string(x.state)) : x.error);
    }
  }
  if (!ended)
    d.state = dl_state::running;
  if (d.rate_bps > 0 && d.size >= d.bytes_done)
    d.eta_s = static_cast<int64_t>((d.size - d.bytes_done) / d.rate_bps);
  return d;
}

// The info of download or folder `key`; nullopt when unknown.
std::optional<download_info> info_of(const manager_state& st, uint64_t key) {
  if (auto fo = st.folders.find(key); fo != st.folders.end())
    return folder_info(st, key, fo->second);
  if (auto i = st.downloads.find(key); i != st.downloads.end())
    return i->second.info;
  return std::nullopt;
}

// Whether download or folder `key` has ended; true when it is unknown (cleared).
bool has_ended(const manager_state& st, uint64_t key) {
  if (auto fo = st.folders.find(key); fo != st.folders.end())
    return fo->second.unfinished == 0;
  auto i = st.downloads.find(key);
  return i == st.downloads.end() || is_final(i->second.info);
}

// Answers the wait_atom requests for `key` (a download or folder) when it has
// ended, or is gone: cleared.
void deliver_if_ended(manager_state& st, uint64_t key) {
  auto [first, last] = st.enders.equal_range(key);
  if (first == last || !has_ended(st, key))
    return;
  auto d = info_of(st, key);
  for (auto it = first; it != last; ++it)
    if (d)
      it->second.deliver(*d);
    else
      it->second.deliver(make_error(ec::not_found, "no download " + std::to_string(key)));
  st.enders.erase(first, last);
}

// Answers the wait_atom requests that download `key` ending answers: its own
// and its folder's.
void deliver_ended(manager_state& st, uint64_t key) {
  deliver_if_ended(st, key);
  if (auto i = st.downloads.find(key); i != st.downloads.end() && i->second.folder != 0)
    deliver_if_ended(st, i->second.folder);
}

// Plans every file of a folder download before starting any, so a clash
// (an existing file) starts nothing.
caf::expected<download_info> launch_folder(self_ptr self, const download_request& req,
                                           const std::vector<file_offer>& files) {
  std::vector<download_params> plans;
  for (auto& f : files) {
    auto p = plan(self, req, f);
    if (!p)
      return p.error();
    plans.push_back(std::move(*p));
  }
  auto& st = self->state;
  folder fo;
  fo.name = req.name;
  fo.out_path = join_path(req.out_dir, sanitize_path(req.name).value_or(req.name));
  auto key = st.next_key++;
  st.folders[key] = std::move(fo);
  for (auto& p : plans) {
    auto k = launch(self, std::move(p)).key;
    auto& stored = st.folders[key];
    stored.keys.push_back(k);
    ++stored.unfinished;
    st.downloads[k].folder = key;
  }
  auto& stored = st.folders[key];
  spdlog::info("download of folder {}: {} files", req.name, stored.keys.size());
  return folder_info(st, key, stored);
}

// Restarts every download that has a resume record in the state dir.
void resume_all(self_ptr self) {
  auto dir = downloads_dir(self->state.cfg);
  auto* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return;
  // Names first: a record moved to its new stem below must not be met again.
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    std::string fn = ent->d_name;
    if (fn.size() >= 6 && fn.compare(fn.size() - 5, 5, ".json") == 0)
      names.push_back(std::move(fn));
  }
  ::closedir(d);
  for (const auto& fn : names) {
    auto path = join_path(dir, fn);
    auto text = read_file(path);
    auto rec = text ? resume_from_json(*text) : std::nullopt;
    auto manifest = path.substr(0, path.size() - 5) + ".manifest";
    if (!rec) {
      // Empty or torn (a power cut after a save that was not synced: the
      // record of a download with no chunk yet) or not ours.
      spdlog::warn("dropping unreadable resume record {}", path);
      ::unlink(path.c_str());
      ::unlink(manifest.c_str());
      continue;
    }
    // A record names its own file (content id and out dir) and a sanitised
    // name; one that does not is not trusted with a path to write to.
    auto name = sanitize_path(rec->name);
    bool named = name && *name == rec->name && !rec->out_dir.empty()
                 && rec->out_dir.front() == '/';
    auto stem = named ? record_stem(self->state.cfg, rec->id_hex,
                                    join_path(rec->out_dir, rec->name))
                      : std::string{};
    auto at = path.substr(0, path.size() - 5); // the stem this record is stored under
    if (named && at != stem
        && at == legacy_record_stem(self->state.cfg, rec->id_hex, rec->out_dir)) {
      // Written before the stem named the file: moved, manifest first (a
      // record may have none yet). A record already under the new name is
      // newer (written by this version) and is kept: the old one goes.
      if (path_exists(stem + ".json")) {
        spdlog::warn("dropping resume record {}: {}.json supersedes it", path, stem);
        ::unlink(path.c_str());
        ::unlink(manifest.c_str());
        continue;
      }
      bool had = std::rename(manifest.c_str(), (stem + ".manifest").c_str()) == 0;
      if (had || errno == ENOENT)
        manifest = stem + ".manifest";
      if (manifest == stem + ".manifest"
          && std::rename(path.c_str(), (stem + ".json").c_str()) == 0) {
        spdlog::info("moved resume record {} to {}.json", path, stem);
        path = stem + ".json";
      }
    }
    if (!named || path != stem + ".json") {
      spdlog::warn("dropping resume record {}: it does not match its file name", path);
      ::unlink(path.c_str());
      ::unlink(manifest.c_str());
      continue;
    }
    download_params p;
    p.req.name = rec->name;
    p.req.id_hex = rec->id_hex;
    p.req.out_dir = rec->out_dir;
    p.req.overwrite = rec->overwrite;
    p.req.seed = rec->seed;
    p.name = rec->name;
    p.id_hex = rec->id_hex;
    p.size = rec->size;
    spdlog::info("resuming {} into {}", rec->name, rec->out_dir);
    launch(self, std::move(p));
  }
}

} // namespace

download_manager_actor::behavior_type
download_manager(self_ptr self, config cfg, identity id, catalog_actor catalog,
                 share_registry_actor registry, peer_links links) {
  arm_crash_hook(self);
  self->state.registry = registry;
  self->state.cfg = std::move(cfg);
  self->state.links = std::move(links);
  self->state.self_id = std::move(id);
  self->state.catalog = catalog;
  // Downloads are linked to the manager: one that dies without a final report
  // is marked failed; a shutdown of the manager takes them along.
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    if (msg.source == caf::actor_cast<caf::actor_addr>(self->state.catalog)
        || msg.reason == caf::exit_reason::user_shutdown
        || msg.reason == caf::exit_reason::kill) {
      self->quit(msg.reason);
      return;
    }
    auto& st = self->state;
    std::vector<uint64_t> died;
    for (auto& [key, e] : st.downloads)
      if (e.actor && caf::actor_cast<caf::actor_addr>(e.actor) == msg.source) {
        drop_actor(st, e);
        died.push_back(key);
        if (!is_final(e.info)) {
          auto d = e.info;
          d.state = dl_state::failed;
          d.error = "internal error: " + caf::to_string(msg.reason);
          set_info(st, e, std::move(d));
        }
      }
    start_waiting(self);
    for (auto k : died)
      deliver_ended(st, k);
  });
  resume_all(self);
  return {
    [=](download_atom, const download_request& req) -> caf::result<download_info> {
      auto rp = self->make_response_promise<download_info>();
      self->request(self->state.catalog, ask_timeout, list_atom::value, req.name, req.id_hex)
        .then(
          [=](const std::vector<file_offer>& files) mutable {
            auto f = choose(req, files);
            if (!f) {
              rp.deliver(f.error());
              return;
            }
            if (!req.name.empty() && f->front().name != req.name) { // a folder
              auto d = launch_folder(self, req, *f);
              if (d)
                rp.deliver(std::move(*d));
              else
                rp.deliver(d.error());
              return;
            }
            auto p = plan(self, req, f->front());
            if (!p) {
              rp.deliver(p.error());
              return;
            }
            rp.deliver(launch(self, std::move(*p)));
          },
          [=](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](status_atom, uint64_t key) -> caf::result<download_info> {
      if (auto d = info_of(self->state, key))
        return *d;
      return make_error(ec::not_found, "no download " + std::to_string(key));
    },
    [=](wait_atom, uint64_t key) -> caf::result<download_info> {
      auto d = info_of(self->state, key);
      if (!d)
        return make_error(ec::not_found, "no download " + std::to_string(key));
      if (is_final(*d))
        return *d;
      auto rp = self->make_response_promise<download_info>();
      self->state.enders.emplace(key, rp);
      return rp;
    },
    [=](status_atom) {
      std::vector<download_info> out;
      for (const auto& [key, e] : self->state.downloads)
        out.push_back(e.info);
      return out;
    },
    [=](cancel_atom, const std::string& target) -> caf::result<std::vector<download_info>> {
      std::vector<download_actor> hits;
      auto acc = std::make_shared<std::vector<download_info>>();
      for (auto& [key, e] : self->state.downloads) {
        if (!(e.info.name == target || in_folder(e.info.name, target)
              || e.info.id_hex == target
              || (target.size() >= 8 && e.info.id_hex.compare(0, target.size(), target) == 0)))
          continue;
        if (e.actor) {
          hits.push_back(e.actor);
        } else if (e.waiting) { // never started: nothing on disk to remove
          e.waiting.reset();
          self->state.queued.erase(key);
          auto d = e.info;
          d.state = dl_state::cancelled;
          d.error = "cancelled by user";
          set_info(self->state, e, std::move(d));
          acc->push_back(e.info);
        }
      }
      if (hits.empty() && acc->empty())
        return make_error(ec::not_found, "no running download named or with id " + target);
      for (const auto& d : *acc)
        deliver_ended(self->state, d.key);
      if (hits.empty())
        return *acc;
      auto rp = self->make_response_promise<std::vector<download_info>>();
      auto left = std::make_shared<size_t>(hits.size());
      for (auto& dl : hits)
        self->request(dl, ask_timeout, cancel_atom::value)
          .then(
            [=](const download_info& d) mutable {
              acc->push_back(d);
              auto& st = self->state;
              auto& e = st.downloads[d.key];
              set_info(st, e, d);
              drop_actor(st, e);
              start_waiting(self);
              deliver_ended(st, d.key);
              if (--*left == 0)
                rp.deliver(*acc);
            },
            [=](const caf::error& err) mutable {
              if (--*left == 0)
                rp.deliver(*acc);
            });
      return rp;
    },
    [=](clear_atom) {
      std::vector<download_info> out;
      auto& dls = self->state.downloads;
      for (auto it = dls.begin(); it != dls.end();) {
        if (!it->second.actor && is_final(it->second.info)) {
          out.push_back(it->second.info);
          it = dls.erase(it);
        } else {
          ++it;
        }
      }
      return out;
    },
    [=](progress_atom, const download_info& d) {
      auto i = self->state.downloads.find(d.key);
      if (i == self->state.downloads.end())
        return;
      auto& st = self->state;
      set_info(st, i->second, d);
      if (is_final(d)) {
        if (i->second.actor)
          self->unlink_from(i->second.actor);
        drop_actor(st, i->second);
        start_waiting(self);
        auto level = d.state == dl_state::failed ? spdlog::level::warn : spdlog::level::info;
        spdlog::log(level, "download {} {} ({} bytes){}", d.name, to_string(d.state), d.bytes_done,
                    d.error.empty() ? "" : ": " + d.error);
        deliver_ended(st, d.key);
      }
    },
    [=](stop_atom) -> caf::result<bool> {
      self->state.stopping = true;
      std::vector<download_actor> running;
      for (auto& [key, e] : self->state.downloads)
        if (e.actor)
          running.push_back(e.actor);
      if (running.empty())
        return true;
      auto rp = self->make_response_promise<bool>();
      auto left = std::make_shared<size_t>(running.size());
      for (auto& dl : running) {
        self->unlink_from(dl);
        self->request(dl, stop_timeout, stop_atom::value)
          .then([=](bool) mutable { if (--*left == 0) rp.deliver(true); },
                [=](const caf::error&) mutable { if (--*left == 0) rp.deliver(true); });
      }
      return rp;
    },
  };
}

download_manager_actor spawn_download_manager(caf::actor_system& sys, const config& cfg,
                                              identity self, catalog_actor catalog,
                                              share_registry_actor registry,
                                              peer_links links) {
  return sys.spawn(download_manager, cfg, self, catalog, registry, std::move(links));
}

} // namespace p2p
