// share_registry: the files this daemon shares.
//
// Shares are keyed by path: each is a (name, content id) offer, and files with
// the same bytes share one manifest. Hashing runs in detached `hasher_actor`s,
// a batch of files each, so the registry stays responsive; results come back
// as serialized manifests. The table is persisted in <state_dir>/shares.json
// (once per batch, see flush) plus one <state_dir>/manifests/<id>.manifest per
// content id.
#include "actors/actors.hpp"
#include "actors/crash_hook.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <thread>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <dirent.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <caf/result.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/defaults.hpp"
#include "storage/dir_watch.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "storage/names.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(defaults::share_check_interval_ms);
constexpr auto full_check_interval
  = std::chrono::milliseconds(defaults::share_full_check_interval_ms);

// -- files on disk -------------------------------------------------------------

struct file_stat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// stat of a regular file (links followed); nullopt (errno set) when missing
// or not regular.
std::optional<file_stat> stat_regular(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  if (!S_ISREG(st.st_mode)) {
    errno = EISDIR;
    return std::nullopt;
  }
  return file_stat{static_cast<uint64_t>(st.st_size), mtime_ns_of(st)};
}

caf::error path_error(const std::string& path, int err) {
  auto code = (err == ENOENT || err == ENOTDIR) ? ec::not_found : ec::io_error;
  return make_error(code, path + ": " + errno_text(err));
}

// The canonical path of `path` (links resolved), or nullopt (errno set).
std::optional<std::string> real_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr)
    return std::nullopt;
  std::string out{real};
  ::free(real);
  return out;
}

bool is_under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0
         && (dir == "/" || path[dir.size()] == '/');
}

// A file to share: where to read it and the name to offer it under.
struct share_target {
  std::string path; // absolute; a link inside a shared folder stays a link
  std::string name;
  uint64_t size = 0; // bytes, from the stat before hashing (for the progress)
};

// Every regular file under the canonical directory `root`, offered as
// "<folder>/<relative path>" (sorted by path). Links to files inside `root`
// are offered under their own names; links leading outside it, to folders or
// nowhere are left out and listed in `skipped` (rule of issue 11), as are
// special files (fifos, sockets, devices) and what this user cannot read
// (issue 13: the reply lists them, not only the log).
caf::expected<std::vector<share_target>>
files_under(const std::string& root, const std::string& folder,
            std::vector<skipped_file>& skipped) {
  namespace fs = std::filesystem;
  std::vector<share_target> out;
  std::error_code err;
  fs::recursive_directory_iterator it{root, fs::directory_options::skip_permission_denied,
                                      err};
  if (err)
    return make_error(ec::io_error, root + ": " + err.message());
  for (; it != fs::recursive_directory_iterator{}; it.increment(err)) {
    if (err)
      return make_error(ec::io_error, root + ": " + err.message());
    std::string path = it->path().string();
    std::string rel = path.substr(root == "/" ? 1 : root.size() + 1);
    std::error_code e2;
    if (it->is_symlink(e2)) {
      auto target = real_path(path);
      if (!target)
        skipped.push_back({path, "broken link"});
      else if (!is_under(*target, root))
        skipped.push_back({path, "link leads outside the shared folder"});
      else if (!stat_regular(*target))
        skipped.push_back({path, "link to a folder or special file"});
      else
        out.push_back({path, folder.empty() ? rel : folder + "/" + rel});
      continue;
    }
    if (it->is_directory(e2)) {
      // recursive_directory_iterator steps over a folder it cannot open
      // (skip_permission_denied); say so instead of leaving it out silently.
      if (::access(path.c_str(), R_OK | X_OK) != 0)
        skipped.push_back({path, "unreadable folder: " + errno_text(errno)});
      continue;
    }
    if (!it->is_regular_file(e2)) {
      skipped.push_back({path, "special file (fifo, socket or device)"});
      continue;
    }
    if (::access(path.c_str(), R_OK) != 0) {
      skipped.push_back({path, "unreadable: " + errno_text(errno)});
      continue;
    }
    out.push_back({path, folder.empty() ? rel : folder + "/" + rel});
  }
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.path < b.path; });
  return out;
}

// -- hasher --------------------------------------------------------------------

// At most this many files, or files of this many bytes, go to one hasher:
// small files are hashed in batches, not with one actor and round trip each.
constexpr size_t max_batch_files = 256;
constexpr uint64_t max_batch_bytes = 16 * 1024 * 1024;

// `job` only names the work in the log. It is also there because CAF 0.17.6
// dereferences a null argument tuple when a function actor is spawned without
// arguments (init_fun_factory), which UBSan rightly stops the daemon for.
// `cancel` is set when the registry terminates, so a daemon asked to stop does
// not wait for the hash of a large file to finish.
hasher_actor::behavior_type hasher(hasher_actor::pointer self, uint64_t job,
                                   std::shared_ptr<std::atomic<bool>> cancel,
                                   std::shared_ptr<std::atomic<uint64_t>> progress) {
  return {
    [=](hash_atom, const std::vector<std::string>& paths,
        uint32_t chunk) -> std::vector<hash_result> {
      spdlog::debug("hasher {}: {} files", job, paths.size());
      std::vector<hash_result> out;
      out.reserve(paths.size());
      for (auto& path : paths) {
        std::string err;
        auto m = build_manifest(path, chunk, err, cancel.get(), progress.get());
        hash_result r;
        r.path = path;
        if (m)
          r.manifest = serialize(*m);
        else
          r.error = err.empty() ? path + ": cannot hash" : err;
        out.push_back(std::move(r));
      }
      self->quit();
      return out;
    },
  };
}

// -- registry state ------------------------------------------------------------

// A manifest and how many shares (paths) use it: files with the same bytes
// share one content id and one manifest file.
struct stored_manifest {
  std::vector<char> bytes;
  size_t users = 0;
  bool file = false; // in manifests/<id>.manifest (else inline in shares.json, or unsaved)
};

// A download's part file offered to peers (swarming): info.partial is set,
// info.have holds its verified chunks.
struct partial_offer {
  share_info info;
  std::vector<char> manifest;
};

// Collects the answers of one `share` request (one per file).
struct pending_share {
  caf::typed_response_promise<share_result> rp;
  size_t remaining = 0;
  share_result result;
  caf::error first_error;
};

using hash_done = std::function<void(const caf::error&, const share_info*)>;

struct hash_job {
  std::string path;
  std::string name;
  uint64_t gen = 0;
  hash_done done;
  file_stat fst; // taken right before hashing
  uint64_t size = 0; // at enqueue time, for the hashing progress
};

// A batch being hashed: its files, their bytes and the bytes its hasher has
// read so far.
struct running_hash {
  uint64_t files = 0;
  uint64_t size = 0;
  std::shared_ptr<std::atomic<uint64_t>> read;
};

struct registry_state {
  static inline const char* name = "share_registry";

  config cfg;
  // Keyed by path: every (name, content id) offer is its own share, so two
  // files with the same bytes are both offered (issue 11).
  std::map<std::string, share_info> shares;
  std::map<std::string, stored_manifest> manifests; // by content id
  // Downloads in progress offered to peers (swarming), by content id; never
  // persisted (a resumed download offers itself again). Not listed when the
  // content id is also shared in full here.
  std::map<std::string, partial_offer> partials;
  uint32_t version = 0;
  std::vector<shares_listener_actor> subscribers;
  // Latest hash started per path; a result with an older generation is stale
  // (superseded or unshared) and does not enter the table.
  std::map<std::string, uint64_t> hash_gen;
  uint64_t next_gen = 0;
  std::deque<hash_job> hash_queue; // waiting for a hasher
  std::map<uint64_t, running_hash> hashing; // by job generation
  size_t hashers_running = 0;
  size_t max_hashers = 1;
  // Changes not yet saved, not yet announced; flush() does both once per
  // batch. A completed download's share goes to the listeners at once on its
  // own, in the table with the next announce, and is saved with the next
  // flush (see the withdraw handler).
  bool unsaved = false;
  bool unannounced = false;
  bool flush_scheduled = false;
  caf::actor_clock::time_point save_due{}; // when the scheduled flush saves (changed())
  bool announce_scheduled = false; // a partial offer's announce is due (announce_soon)
  // Set when the registry terminates: running hashers stop reading.
  std::shared_ptr<std::atomic<bool>> stop_hashing = std::make_shared<std::atomic<bool>>(false);
  // Change detection (see handle_tick): the watched directories, each with
  // the shares in it (a link's share also under its target's directory);
  // each share's directories; shares to stat on every tick because one of
  // their directories could not be watched; shares to stat at the next tick
  // once (just installed: a change before the watch began is not reported).
  std::unique_ptr<dir_watch> watch = std::make_unique<dir_watch>();
  std::map<std::string, std::set<std::string>> watched;
  std::map<std::string, std::vector<std::string>> dirs_of;
  std::set<std::string> unwatched;
  std::set<std::string> check_next;
  caf::actor_clock::time_point next_full_check; // set at spawn, from the actor's clock
  bool told_unwatched = false;

  std::string manifest_dir() const { return join_path(cfg.state_dir, "manifests"); }
  std::string manifest_path(const std::string& id) const {
    return join_path(manifest_dir(), id + ".manifest");
  }
  bool persistent() const { return !cfg.state_dir.empty(); }

  const share_info* by_path(const std::string& path) const {
    auto i = shares.find(path);
    return i == shares.end() ? nullptr : &i->second;
  }

  // The shares (list, status); with `partial` also the partial offers of
  // downloads (what listeners serve and announce).
  std::vector<share_info> table(bool partial = true) const {
    std::vector<share_info> out;
    out.reserve(shares.size() + partials.size());
    for (auto& [path, info] : shares)
      out.push_back(info);
    if (partial)
      for (auto& [id, e] : partials)
        if (manifests.count(id) == 0)
          out.push_back(e.info);
    return out;
  }
};

using registry_ptr = share_registry_actor::stateful_pointer<registry_state>;

void start_hashers(registry_ptr self);

// -- persistence ---------------------------------------------------------------

// Manifests of at most this many bytes (files of up to 4 chunks) are kept
// inline in shares.json as "manifest_hex" instead of a file each: sharing
// thousands of small files then creates no file per share (issue 11).
constexpr size_t max_inline_manifest = 16 + 4 * 32;

bool stored_inline(const std::vector<char>& manifest) {
  return manifest.size() <= max_inline_manifest;
}

// shares.json is a JSON array with one share object per line. It is written
// object by object, never as one document tree: a tree of 100,000 shares took
// ~1 KiB per share at once (issue 11's RSS measurement); this holds one object
// and the text.
void save_table(registry_state& st) {
  if (!st.persistent())
    return;
  std::string text = "[";
  for (auto& [path, i] : st.shares) {
    nlohmann::json j{{"name", name_to_json(i.name)},
                     {"path", name_to_json(i.path)},
                     {"id_hex", i.id_hex},
                     {"size", i.size},
                     {"chunk_size", i.chunk_size},
                     {"mtime_ns", i.mtime_ns}};
    if (auto m = st.manifests.find(i.id_hex);
        m != st.manifests.end() && stored_inline(m->second.bytes))
      j["manifest_hex"] = to_hex(m->second.bytes.data(), m->second.bytes.size());
    text += text.size() == 1 ? "\n" : ",\n";
    text += j.dump();
  }
  text += "\n]\n";
  if (auto err = make_dirs(st.cfg.state_dir); !err.empty()) {
    spdlog::warn("share_registry: cannot create {}: {}", st.cfg.state_dir, err);
    return;
  }
  auto err = write_file_atomic(join_path(st.cfg.state_dir, "shares.json"), text);
  if (!err.empty())
    spdlog::warn("share_registry: cannot save shares.json: {}", err);
}

// Writes manifests/<id>.manifest unless the manifest is kept inline; whether
// the file was written.
bool save_manifest(registry_state& st, const std::string& id,
                   const std::vector<char>& bytes) {
  if (!st.persistent() || stored_inline(bytes))
    return false;
  if (auto err = make_dirs(st.manifest_dir()); !err.empty()) {
    spdlog::warn("share_registry: cannot create {}: {}", st.manifest_dir(), err);
    return false;
  }
  // Not fsynced: load_manifest verifies it against its id, and one lost in a
  // crash is re-hashed (issue 11: no per-file fsyncs).
  auto err = write_file_atomic(st.manifest_path(id), std::string(bytes.begin(), bytes.end()),
                               0644, false);
  if (!err.empty())
    spdlog::warn("share_registry: cannot save manifest {}: {}", id, err);
  return err.empty();
}

// One user fewer for manifest `id`; the last one takes it (and its file) away.
void release_manifest(registry_state& st, const std::string& id) {
  auto i = st.manifests.find(id);
  if (i != st.manifests.end() && --i->second.users > 0)
    return;
  // Only a manifest with a file: an inline one has none, and unlinking it
  // anyway failed once per replaced small share (issue 9: every re-download).
  bool file = i == st.manifests.end() ? st.persistent() : i->second.file;
  if (i != st.manifests.end())
    st.manifests.erase(i);
  if (file)
    ::unlink(st.manifest_path(id).c_str());
}

// One user more for manifest `id` (stored, and saved, when new).
void retain_manifest(registry_state& st, const std::string& id, std::vector<char> bytes,
                     bool save) {
  auto [i, added] = st.manifests.try_emplace(id);
  if (added) {
    i->second.bytes = std::move(bytes);
    if (save)
      i->second.file = save_manifest(st, id, i->second.bytes);
  }
  ++i->second.users;
}

// A share_info from the JSON of shares.json; nullopt when malformed.
std::optional<share_info> info_from_json(const nlohmann::json& j) {
  try {
    share_info i;
    auto name = name_from_json(j.at("name").get<std::string>());
    auto path = name_from_json(j.at("path").get<std::string>());
    if (!name || !path)
      return std::nullopt;
    i.name = std::move(*name);
    i.path = std::move(*path);
    i.id_hex = j.at("id_hex").get<std::string>();
    i.size = j.at("size").get<uint64_t>();
    i.chunk_size = j.at("chunk_size").get<uint32_t>();
    i.mtime_ns = j.at("mtime_ns").get<int64_t>();
    return i;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The manifest stored for `info` (inline in its shares.json entry `j`, or in
// its file), if it is intact and matches the id.
std::optional<std::vector<char>> load_manifest(registry_state& st, const share_info& info,
                                               const nlohmann::json& j) {
  std::optional<std::string> bytes;
  if (auto h = j.find("manifest_hex"); h != j.end() && h->is_string()) {
    if (auto raw = from_hex(h->get<std::string>()))
      bytes = std::string(raw->begin(), raw->end());
  } else {
    bytes = read_file(st.manifest_path(info.id_hex));
  }
  if (!bytes)
    return std::nullopt;
  auto m = parse_manifest(bytes->data(), bytes->size());
  if (!m || m->size != info.size || m->chunk_size != info.chunk_size)
    return std::nullopt;
  auto id = sha256(bytes->data(), bytes->size());
  if (to_hex(id.data(), id.size()) != info.id_hex)
    return std::nullopt;
  return std::vector<char>(bytes->begin(), bytes->end());
}

// -- table changes -------------------------------------------------------------

// Sends the table (with the partial offers) under a new catalog version.
void announce(registry_ptr self) {
  auto& st = self->state;
  ++st.version;
  auto tbl = st.table();
  for (auto& s : st.subscribers)
    self->send(s, shares_atom::value, tbl, st.version);
}

// Saves shares.json when a change is not saved yet.
void save_pending(registry_state& st) {
  if (!st.unsaved)
    return;
  st.unsaved = false;
  save_table(st);
}

// Tells the subscribers when a change is not announced yet.
void announce_pending(registry_ptr self) {
  if (!self->state.unannounced)
    return;
  self->state.unannounced = false;
  announce(self);
}

// Announces within defaults::partial_announce_delay_ms, once for everything
// that changed meanwhile (a flush_atom then announces; shares.json waits for
// its own flush: saved at each partial offer's timer, it was rewritten ~16
// times a second during small downloads).
void announce_soon(registry_ptr self) {
  auto& st = self->state;
  st.unannounced = true;
  if (st.announce_scheduled)
    return;
  st.announce_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds(defaults::partial_announce_delay_ms),
                     flush_atom::value);
}

// Saves shares.json and tells the subscribers, once for all changes since the
// last flush: a folder of thousands of files costs a few saves, not one each.
void flush(registry_ptr self) {
  save_pending(self->state);
  announce_pending(self);
}

// Marks the table changed; it is flushed when the hash queue is empty, or
// within defaults::share_flush_interval_ms while a long batch still hashes.

void changed(registry_ptr self) {
  auto& st = self->state;
  st.unsaved = true;
  st.unannounced = true;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    st.save_due = self->clock().now()
                  + std::chrono::milliseconds(defaults::share_flush_interval_ms);
    self->delayed_send(self, std::chrono::milliseconds(defaults::share_flush_interval_ms),
                       flush_atom::value);
  }
}

// "/a/b/c" -> "/a/b"; "/c" -> "/".
std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Watches the directories of the share at `path`: its own and, for a link,
// its target's. A directory that cannot be watched (the inotify limit) puts
// the share on the every-tick list.
void watch_share(registry_state& st, const std::string& path) {
  st.check_next.insert(path);
  if (st.dirs_of.count(path) != 0)
    return;
  std::vector<std::string> dirs{parent_dir(path)};
  // realpath(3) only for a link: it costs a readlink per path component, and
  // a linked folder above a plain file needs no second watch (inotify
  // resolves the link: one descriptor, which dir_watch reports under the
  // name it was added by).
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
    if (auto real = real_path(path); real && parent_dir(*real) != dirs.front())
      dirs.push_back(parent_dir(*real));
  for (auto& d : dirs) {
    if (st.watch->add(d)) {
      st.watched[d].insert(path);
      continue;
    }
    if (!st.told_unwatched) {
      st.told_unwatched = true;
      spdlog::info("share_registry: cannot watch {} ({}); its shared files are checked every "
                   "{} ms",
                   d, errno_text(errno), defaults::share_check_interval_ms);
    }
    st.unwatched.insert(path);
  }
  st.dirs_of[path] = std::move(dirs);
}

void unwatch_share(registry_state& st, const std::string& path) {
  st.unwatched.erase(path);
  st.check_next.erase(path);
  auto i = st.dirs_of.find(path);
  if (i == st.dirs_of.end())
    return;
  for (auto& d : i->second) {
    auto w = st.watched.find(d);
    if (w == st.watched.end())
      continue;
    w->second.erase(path);
    if (w->second.empty()) {
      st.watched.erase(w);
      st.watch->remove(d);
    }
  }
  st.dirs_of.erase(i);
}

// Takes the share of `path` out of the table (marks the change).
void erase_share(registry_ptr self, const std::string& path) {
  auto& st = self->state;
  auto i = st.shares.find(path);
  if (i == st.shares.end())
    return;
  auto id = i->second.id_hex;
  st.shares.erase(i);
  unwatch_share(st, path);
  release_manifest(st, id);
  changed(self);
}

// Installs a freshly hashed file. Returns the share now offered for it.
share_info install(registry_ptr self, const hash_job& job, std::vector<char> bytes) {
  auto& st = self->state;
  auto m = parse_manifest(bytes.data(), bytes.size());
  auto digest = sha256(bytes.data(), bytes.size());
  share_info info;
  info.name = job.name;
  info.path = job.path;
  info.id_hex = to_hex(digest.data(), digest.size());
  info.size = m ? m->size : job.fst.size;
  info.chunk_size = m ? m->chunk_size : 0;
  info.mtime_ns = job.fst.mtime_ns;
  if (auto old = st.by_path(job.path)) {
    if (old->id_hex == info.id_hex && old->name == info.name && old->size == info.size
        && old->mtime_ns == info.mtime_ns)
      return info; // nothing new
    erase_share(self, job.path);
  }
  bool new_content = st.manifests.count(info.id_hex) == 0;
  retain_manifest(st, info.id_hex, std::move(bytes), true);
  st.shares[job.path] = info;
  watch_share(st, job.path);
  changed(self);
  if (new_content)
    spdlog::debug("sharing {} ({} bytes, id {})", job.path, info.size,
                  info.id_hex.substr(0, 12));
  return info;
}

// Queues `path` for hashing (at most max_hashers batches at once); calls
// `done` with the installed share or the error. `done` gets a null
// share_info and no error when the job was dropped (unshared while queued).
// `size` (bytes, from a stat just taken) only counts in the hashing progress.
void hash_file(registry_ptr self, const std::string& path, const std::string& name,
               uint64_t size, hash_done done) {
  auto& st = self->state;
  auto gen = ++st.next_gen;
  st.hash_gen[path] = gen;
  st.hash_queue.push_back(hash_job{path, name, gen, std::move(done), {}, size});
  start_hashers(self);
}

void finish_hash(registry_ptr self, const hash_job& job, hash_result& r) {
  auto& st = self->state;
  auto i = st.hash_gen.find(job.path);
  bool current = i != st.hash_gen.end() && i->second == job.gen;
  if (current)
    st.hash_gen.erase(i);
  if (!r.error.empty()) {
    job.done(make_error(ec::io_error, r.error), nullptr);
    return;
  }
  if (!current) {
    // Superseded or unshared meanwhile: report, do not install.
    auto m = parse_manifest(r.manifest.data(), r.manifest.size());
    auto digest = sha256(r.manifest.data(), r.manifest.size());
    share_info info{job.name, job.path, to_hex(digest.data(), digest.size()),
                    m ? m->size : job.fst.size, m ? m->chunk_size : 0, job.fst.mtime_ns, false, {}};
    job.done(caf::error{}, &info);
    return;
  }
  auto info = install(self, job, std::move(r.manifest));
  job.done(caf::error{}, &info);
}

// Takes the next batch of jobs off the queue: still wanted, stat taken.
std::vector<hash_job> next_batch(registry_ptr self) {
  auto& st = self->state;
  std::vector<hash_job> batch;
  uint64_t bytes = 0;
  while (!st.hash_queue.empty() && batch.size() < max_batch_files
         && bytes < max_batch_bytes) {
    auto job = std::move(st.hash_queue.front());
    st.hash_queue.pop_front();
    auto g = st.hash_gen.find(job.path);
    if (g == st.hash_gen.end() || g->second != job.gen) {
      job.done(caf::error{}, nullptr); // unshared or superseded while queued
      continue;
    }
    // Stat right before hashing: a change after this point shows up as a
    // size/mtime mismatch at the next tick and triggers a re-hash.
    auto fst = stat_regular(job.path);
    if (!fst) {
      st.hash_gen.erase(g);
      job.done(path_error(job.path, errno), nullptr);
      continue;
    }
    job.fst = *fst;
    bytes += fst->size;
    batch.push_back(std::move(job));
  }
  return batch;
}

void start_hashers(registry_ptr self) {
  auto& st = self->state;
  while (st.hashers_running < st.max_hashers && !st.hash_queue.empty()) {
    auto batch = std::make_shared<std::vector<hash_job>>(next_batch(self));
    if (batch->empty())
      continue;
    ++st.hashers_running;
    std::vector<std::string> paths;
    paths.reserve(batch->size());
    for (auto& j : *batch)
      paths.push_back(j.path);
    auto chunk = st.cfg.chunk_size != 0 ? st.cfg.chunk_size : defaults::chunk_size;
    uint64_t batch_bytes = 0;
    for (auto& j : *batch)
      batch_bytes += j.fst.size;
    auto gen = batch->front().gen;
    auto read = std::make_shared<std::atomic<uint64_t>>(0);
    st.hashing[gen] = running_hash{batch->size(), batch_bytes, read};
    auto h = self->spawn<caf::detached>(hasher, gen, st.stop_hashing, read);
    self->request(h, caf::infinite, hash_atom::value, std::move(paths), chunk)
      .then(
        [=](std::vector<hash_result>& results) {
          --self->state.hashers_running;
          self->state.hashing.erase(gen);
          for (size_t k = 0; k < batch->size() && k < results.size(); ++k)
            finish_hash(self, (*batch)[k], results[k]);
          start_hashers(self);
          if (self->state.hash_queue.empty() && self->state.hashers_running == 0)
            flush(self);
        },
        [=](caf::error& err) {
          auto& st = self->state;
          --st.hashers_running;
          st.hashing.erase(gen);
          for (auto& job : *batch) {
            auto i = st.hash_gen.find(job.path);
            if (i != st.hash_gen.end() && i->second == job.gen)
              st.hash_gen.erase(i);
            job.done(err, nullptr);
          }
          start_hashers(self);
        });
  }
}

// Re-hash in the background after a change (nobody waits for the answer).
void rehash(registry_ptr self, const std::string& path, const std::string& name) {
  if (self->state.hash_gen.count(path) > 0)
    return; // already being hashed
  auto fst = stat_regular(path);
  hash_file(self, path, name, fst ? fst->size : 0,
            [path](const caf::error& err, const share_info* info) {
    if (err)
      spdlog::warn("share_registry: re-hash of {} failed: {}", path,
                   describe(err).second);
    else if (info)
      spdlog::info("re-hashed {} (id {})", path, info->id_hex.substr(0, 12));
  });
}

// -- startup -------------------------------------------------------------------

void load_table(registry_ptr self) {
  auto& st = self->state;
  if (!st.persistent())
    return;
  auto text = read_file(join_path(st.cfg.state_dir, "shares.json"));
  if (!text)
    return;
  nlohmann::json arr;
  try {
    arr = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    spdlog::warn("share_registry: ignoring malformed shares.json: {}", e.what());
    return;
  }
  if (!arr.is_array())
    return;
  bool dropped = false;
  std::vector<share_info> to_hash;
  for (auto& j : arr) {
    auto info = info_from_json(j);
    if (!info)
      continue;
    auto fst = stat_regular(info->path);
    if (!fst) {
      spdlog::info("no longer sharing {}: {}", info->path, errno_text(errno));
      dropped = true;
      continue;
    }
    if (fst->size != info->size || fst->mtime_ns != info->mtime_ns) {
      to_hash.push_back(*info);
      dropped = true;
      continue;
    }
    auto known = st.manifests.find(info->id_hex);
    std::optional<std::vector<char>> bytes;
    if (known == st.manifests.end())
      bytes = load_manifest(st, *info, j);
    if (known == st.manifests.end() && !bytes) {
      to_hash.push_back(*info);
      dropped = true;
      continue;
    }
    retain_manifest(st, info->id_hex, bytes ? std::move(*bytes) : std::vector<char>{},
                    false);
    if (bytes && j.find("manifest_hex") == j.end())
      st.manifests[info->id_hex].file = true; // read from manifests/<id>.manifest
    st.shares[info->path] = *info;
    watch_share(st, info->path);
  }
  // Manifest files no share uses any more (its file vanished or changed).
  if (auto* d = ::opendir(st.manifest_dir().c_str())) {
    while (auto* ent = ::readdir(d)) {
      std::string fn = ent->d_name;
      auto dot = fn.find(".manifest");
      if (dot != std::string::npos && st.manifests.count(fn.substr(0, dot)) == 0)
        ::unlink(join_path(st.manifest_dir(), fn).c_str());
    }
    ::closedir(d);
  }
  if (dropped)
    save_table(st);
  for (auto& i : to_hash)
    rehash(self, i.path, i.name);
}

// -- handlers ------------------------------------------------------------------

// What `share <arg>` offers: one file (a link under its own name) or every
// file under a folder. Errors when the argument is neither.
caf::expected<std::vector<share_target>> share_targets(const std::string& arg,
                                                       std::vector<skipped_file>& skipped) {
  if (arg.empty() || arg[0] != '/')
    return make_error(ec::bad_request, arg + ": path must be absolute");
  auto trimmed = arg;
  while (trimmed.size() > 1 && trimmed.back() == '/')
    trimmed.pop_back();
  auto real = real_path(trimmed);
  if (!real)
    return path_error(arg, errno);
  struct stat sb;
  if (::stat(real->c_str(), &sb) != 0)
    return path_error(arg, errno);
  if (S_ISDIR(sb.st_mode))
    return files_under(*real, base_name(trimmed), skipped);
  if (!S_ISREG(sb.st_mode))
    return make_error(ec::bad_request, arg + ": not a regular file or directory");
  // A file, or a link to one: offered under the name given (the link's own),
  // read through the link from its canonical folder.
  auto parent = real_path(trimmed.substr(0, trimmed.rfind('/') + 1));
  if (!parent)
    return path_error(arg, errno);
  auto name = base_name(trimmed);
  return std::vector<share_target>{{join_path(*parent, name), name}};
}

caf::result<share_result> handle_share(registry_ptr self, const std::string& arg) {
  auto pending = std::make_shared<pending_share>();
  auto targets = share_targets(arg, pending->result.skipped);
  if (!targets)
    return targets.error();
  for (auto& s : pending->result.skipped)
    spdlog::info("not sharing {}: {}", s.path, s.reason);
  auto& st = self->state;
  pending->rp = self->make_response_promise<share_result>();
  std::vector<share_target> to_hash;
  for (auto& t : *targets) {
    auto fst = stat_regular(t.path);
    if (!fst)
      continue; // vanished since the walk
    if (auto* e = st.by_path(t.path)) {
      if (e->size == fst->size && e->mtime_ns == fst->mtime_ns) {
        if (e->name != t.name) {
          st.shares[t.path].name = t.name; // the latest share names it
          changed(self);
        }
        pending->result.shares.push_back(st.shares[t.path]);
        continue;
      }
      // Changed on disk: withdraw the stale share now, re-hash below.
      erase_share(self, t.path);
    }
    to_hash.push_back(t);
    to_hash.back().size = fst->size;
  }
  if (to_hash.empty()) {
    flush(self);
    pending->rp.deliver(std::move(pending->result));
    return pending->rp;
  }
  spdlog::info("sharing {}: {} file{} to hash", arg, to_hash.size(), to_hash.size() == 1 ? "" : "s");
  pending->remaining = to_hash.size();
  for (auto& t : to_hash) {
    auto path = t.path;
    hash_file(self, t.path, t.name, t.size,
              [self, pending, path](const caf::error& err, const share_info* info) {
                if (err) {
                  spdlog::warn("share_registry: cannot share {}: {}", path,
                               describe(err).second);
                  if (!pending->first_error)
                    pending->first_error = err;
                } else if (info) {
                  pending->result.shares.push_back(*info);
                }
                if (--pending->remaining > 0)
                  return;
                // The reply comes after the table is saved and announced.
                flush(self);
                // Partial success of a directory reports what was shared.
                if (pending->result.shares.empty() && pending->first_error)
                  pending->rp.deliver(pending->first_error);
                else
                  pending->rp.deliver(std::move(pending->result));
              });
  }
  return pending->rp;
}

caf::result<std::vector<share_info>> handle_unshare(registry_ptr self,
                                                    const std::string& arg) {
  auto& st = self->state;
  std::string real_arg = arg;
  if (!arg.empty() && arg[0] == '/')
    real_arg = real_path(arg).value_or(arg);
  // A folder's name unshares every file offered under it.
  auto named = [&](const std::string& name) {
    return name == arg
           || (name.size() > arg.size() && name.compare(0, arg.size(), arg) == 0
               && name[arg.size()] == '/');
  };
  auto matches = [&](const std::string& path) {
    return path == arg || path == real_arg || (real_arg.size() > 1 && is_under(path, real_arg));
  };
  std::vector<share_info> removed;
  std::vector<std::string> paths;
  for (auto& [path, i] : st.shares)
    if (named(i.name) || i.id_hex == arg || matches(path)) {
      removed.push_back(i);
      paths.push_back(path);
    }
  for (auto& p : paths)
    erase_share(self, p);
  // Hashes under way for matching paths will not be installed.
  bool cancelled = false;
  for (auto it = st.hash_gen.begin(); it != st.hash_gen.end();) {
    if (matches(it->first) || base_name(it->first) == arg) {
      it = st.hash_gen.erase(it);
      cancelled = true;
    } else {
      ++it;
    }
  }
  if (removed.empty() && !cancelled)
    return make_error(ec::not_found, "no share matches " + arg);
  flush(self);
  for (auto& i : removed)
    spdlog::info("stopped sharing {}", i.path);
  return removed;
}

// The periodic check: reads the directory watch's events and stats the
// shares in the directories that changed, the unwatchable ones and those just
// installed; every share on overflow, without inotify, and every
// full_check_interval. A missing file is withdrawn, a changed one re-hashed.
void handle_tick(registry_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto events = st.watch->poll();
  std::set<std::string> paths = std::move(st.check_next);
  st.check_next.clear();
  bool full = events.overflow || !st.watch->ok() || now >= st.next_full_check;
  if (full) {
    st.next_full_check = now + full_check_interval;
    for (auto& [path, info] : st.shares)
      paths.insert(path);
  } else {
    paths.insert(st.unwatched.begin(), st.unwatched.end());
    for (auto& d : events.dirs)
      if (auto w = st.watched.find(d); w != st.watched.end())
        paths.insert(w->second.begin(), w->second.end());
  }
  // A directory deleted or moved lost its watch: watch it again for the
  // shares still in it (their files may live on under the same path).
  for (auto& d : events.dirs)
    if (auto w = st.watched.find(d); w != st.watched.end() && !st.watch->add(d))
      st.unwatched.insert(w->second.begin(), w->second.end());
  if (!paths.empty())
    spdlog::debug("share_registry: checking {} of {} shared files ({})", paths.size(),
                  st.shares.size(), full ? "all" : "changed directories");
  std::vector<std::string> withdrawn;
  std::vector<share_info> changed_files;
  for (auto& path : paths) {
    auto i = st.shares.find(path);
    if (i == st.shares.end())
      continue;
    auto& info = i->second;
    auto fst = stat_regular(path);
    if (!fst) {
      spdlog::info("no longer sharing {}: {}", path, errno_text(errno));
      withdrawn.push_back(path);
    } else if (fst->size != info.size || fst->mtime_ns != info.mtime_ns) {
      spdlog::info("{} changed on disk; re-hashing", path);
      withdrawn.push_back(path);
      changed_files.push_back(info);
    }
  }
  if (withdrawn.empty())
    return;
  for (auto& p : withdrawn)
    erase_share(self, p);
  flush(self);
  for (auto& i : changed_files)
    rehash(self, i.path, i.name);
}

share_registry_actor::behavior_type registry(registry_ptr self, config cfg) {
  arm_crash_hook(self);
  self->state.cfg = std::move(cfg);
  self->state.max_hashers
    = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  // Start at a time-based version so a restarted daemon never repeats an old
  // (version, table) pair that a remote catalog might have cached.
  self->state.version = static_cast<uint32_t>(std::time(nullptr));
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const shares_listener_actor& s) {
                                return s.address() == dm.source;
                              }),
               subs.end());
  });
  self->attach_functor(
    [flag = self->state.stop_hashing] { flag->store(true, std::memory_order_relaxed); });
  // A clean stop (stop_daemon's exit message) saves what the debounced
  // flush has not saved yet, so nothing is lost; a kill -9 within
  // share_flush_interval_ms of a change loses that change.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal)
      return; // as CAF's default handler: only an abnormal exit ends this actor
    save_pending(self->state);
    self->quit(msg.reason);
  });
  self->state.next_full_check = self->clock().now() + full_check_interval;
  load_table(self);
  self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](share_atom, const std::string& path) { return handle_share(self, path); },
    [=](hash_atom) {
      auto& st = self->state;
      uint64_t files = st.hash_queue.size();
      uint64_t left = 0;
      for (const auto& job : st.hash_queue)
        left += job.size;
      for (const auto& [gen, h] : st.hashing) {
        files += h.files;
        left += h.size - std::min(h.size, h.read->load(std::memory_order_relaxed));
      }
      return std::make_tuple(files, left);
    },
    [=](unshare_atom, const std::string& arg) { return handle_unshare(self, arg); },
    [=](list_atom) { return self->state.table(false); },
    [=](manifest_atom, const std::string& id) -> caf::result<std::vector<char>> {
      auto& st = self->state;
      if (auto i = st.manifests.find(id); i != st.manifests.end())
        return i->second.bytes;
      auto i = st.partials.find(id);
      if (i == st.partials.end())
        return make_error(ec::not_found, "no share with id " + id);
      return i->second.manifest;
    },
    [=](partial_atom, share_info& info, std::vector<char>& manifest) {
      auto& st = self->state;
      info.partial = true;
      auto id = info.id_hex;
      st.partials[id] = partial_offer{std::move(info), std::move(manifest)};
      if (st.manifests.count(id) == 0)
        announce_soon(self);
    },
    [=](have_atom, const std::string& id, uint32_t index) {
      auto& st = self->state;
      auto i = st.partials.find(id);
      if (i == st.partials.end() || index >= i->second.info.have.size()
          || i->second.info.have[index])
        return;
      i->second.info.have[index] = true;
      for (auto& s : st.subscribers)
        self->send(s, have_atom::value, id, index);
    },
    [=](withdraw_atom, const std::string& id, const std::string& final_path) {
      auto& st = self->state;
      auto i = st.partials.find(id);
      if (i == st.partials.end())
        return;
      auto offer = std::move(i->second);
      st.partials.erase(i);
      auto fst = final_path.empty() ? std::nullopt : stat_regular(final_path);
      if (fst) {
        // The download verified every chunk: shared on under the name it was
        // downloaded by ("DIR/sub/file" for a folder's file), not hashed again.
        // The listeners get it at once on its own (the peer_server serves
        // it from the final path: the part file is gone) and in the table
        // partial_announce_delay_ms later, with the other downloads completed
        // meanwhile: one whole table per completed download was ~13 % of the
        // downloader's CPU with 1,000 small files (issue 9). A share it
        // replaces (same path, other content) goes in a table at once; the
        // same content at its own path again (downloaded over it, or after
        // it was deleted and before a check noticed) goes alone: a table per
        // file there made each later bench run of 1,000 small files cost
        // twice the first (3.0 against 1.4 downloader CPU-s).
        // shares.json is saved by the flush that changed() scheduled, within
        // share_flush_interval_ms: 1,000 small downloads rewrote the whole
        // table 1,000 times, with 2 fsyncs each (issue 9).
        hash_job job;
        job.path = final_path;
        job.name = offer.info.name;
        job.fst = *fst;
        auto* old = st.by_path(final_path);
        bool replaces = old != nullptr && old->id_hex != id;
        auto info = install(self, job, std::move(offer.manifest));
        if (replaces) {
          announce_pending(self);
        } else {
          for (auto& s : st.subscribers)
            self->send(s, share_atom::value, info);
          announce_soon(self);
        }
      } else if (st.manifests.count(id) == 0) {
        announce(self);
      }
    },
    [=](subscribe_atom, shares_listener_actor who) {
      auto& subs = self->state.subscribers;
      if (std::find(subs.begin(), subs.end(), who) == subs.end()) {
        subs.push_back(who);
        self->monitor(who);
      }
      self->send(who, shares_atom::value, self->state.table(), self->state.version);
    },
    [=](tick_atom) {
      handle_tick(self);
      // Only the self-scheduled tick re-arms the timer; ticks from elsewhere
      // (tests) just run a check.
      if (self->current_sender().get() == self->ctrl())
        self->delayed_send(self, tick_interval, tick_atom::value);
    },
    [=](flush_atom) {
      auto& st = self->state;
      st.announce_scheduled = false;
      announce_pending(self);
      // Only changed()'s timer saves; announce_soon's comes earlier.
      if (st.flush_scheduled && self->clock().now() >= st.save_due) {
        st.flush_scheduled = false;
        save_pending(st);
      }
    },
  };
}

} // namespace

share_registry_actor spawn_share_registry(caf::actor_system& sys, const config& cfg) {
  return sys.spawn(registry, cfg);
}

} // namespace p2p
