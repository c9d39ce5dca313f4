// share_registry: the files this daemon shares.
//
// Shares are keyed by content id. Hashing runs in detached `hasher_actor`s so
// the registry stays responsive; results come back as serialized manifests.
// The table is persisted in <state_dir>/shares.json plus one
// <state_dir>/manifests/<id>.manifest per share.
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
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "storage/names.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

constexpr auto tick_interval = std::chrono::milliseconds(defaults::share_check_interval_ms);

// -- files on disk -------------------------------------------------------------

struct file_stat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// stat of a regular file; nullopt (errno set) when missing or not regular.
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

// Every regular file under `dir` (recursive, canonical paths, sorted).
caf::expected<std::vector<std::string>> files_under(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code err;
  fs::recursive_directory_iterator it{dir, fs::directory_options::skip_permission_denied,
                                      err};
  if (err)
    return make_error(ec::io_error, dir + ": " + err.message());
  for (; it != fs::recursive_directory_iterator{}; it.increment(err)) {
    if (err)
      return make_error(ec::io_error, dir + ": " + err.message());
    std::error_code e2;
    if (!it->is_regular_file(e2))
      continue;
    char* real = ::realpath(it->path().c_str(), nullptr);
    if (real == nullptr)
      continue;
    out.emplace_back(real);
    ::free(real);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// -- hasher --------------------------------------------------------------------

// `job` only names the work in the log. It is also there because CAF 0.17.6
// dereferences a null argument tuple when a function actor is spawned without
// arguments (init_fun_factory), which UBSan rightly stops the daemon for.
// `cancel` is set when the registry terminates, so a daemon asked to stop does
// not wait for the hash of a large file to finish.
hasher_actor::behavior_type hasher(hasher_actor::pointer self, uint64_t job,
                                   std::shared_ptr<std::atomic<bool>> cancel,
                                   std::shared_ptr<std::atomic<uint64_t>> progress) {
  return {
    [=](hash_atom, const std::string& path,
        uint32_t chunk) -> caf::result<std::vector<char>> {
      spdlog::debug("hasher {}: {}", job, path);
      std::string err;
      auto m = build_manifest(path, chunk, err, cancel.get(), progress.get());
      self->quit();
      if (!m)
        return make_error(ec::io_error, err.empty() ? path + ": cannot hash" : err);
      return serialize(*m);
    },
  };
}

// -- registry state ------------------------------------------------------------

struct share_entry {
  share_info info;
  std::vector<char> manifest;
};

// Collects the answers of one `share` request (one per file).
struct pending_share {
  caf::typed_response_promise<std::vector<share_info>> rp;
  size_t remaining = 0;
  std::vector<share_info> results;
  caf::error first_error;
};

using hash_done = std::function<void(const caf::error&, const share_info*)>;

struct hash_job {
  std::string path;
  uint64_t gen = 0;
  hash_done done;
  uint64_t size = 0; // at enqueue time, for the hashing progress
};

// A file being hashed: its size and the bytes its hasher has read.
struct running_hash {
  uint64_t size = 0;
  std::shared_ptr<std::atomic<uint64_t>> read;
};

struct registry_state {
  static inline const char* name = "share_registry";

  config cfg;
  std::map<std::string, share_entry> shares; // by content id
  // Downloads in progress offered to peers (swarming), by content id; never
  // persisted (a resumed download offers itself again).
  std::map<std::string, share_entry> partials;
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
  // Set when the registry terminates: running hashers stop reading.
  std::shared_ptr<std::atomic<bool>> stop_hashing = std::make_shared<std::atomic<bool>>(false);

  std::string manifest_dir() const { return join_path(cfg.state_dir, "manifests"); }
  std::string manifest_path(const std::string& id) const {
    return join_path(manifest_dir(), id + ".manifest");
  }
  bool persistent() const { return !cfg.state_dir.empty(); }

  const share_entry* by_path(const std::string& path) const {
    for (auto& [id, e] : shares)
      if (e.info.path == path)
        return &e;
    return nullptr;
  }

  // The shares (list, status); with `partial` also the partial offers of
  // downloads (what listeners serve and announce).
  std::vector<share_info> table(bool partial = true) const {
    std::vector<share_info> out;
    out.reserve(shares.size() + partials.size());
    for (auto& [id, e] : shares)
      out.push_back(e.info);
    if (partial)
      for (auto& [id, e] : partials)
        if (shares.count(id) == 0)
          out.push_back(e.info);
    return out;
  }
};

using registry_ptr = share_registry_actor::stateful_pointer<registry_state>;

void start_hashers(share_registry_actor::stateful_pointer<registry_state> self);

// -- persistence ---------------------------------------------------------------

void save_table(registry_state& st) {
  if (!st.persistent())
    return;
  auto arr = nlohmann::json::array();
  for (auto& [id, e] : st.shares) {
    auto& i = e.info;
    arr.push_back({{"name", name_to_json(i.name)},
                   {"path", name_to_json(i.path)},
                   {"id_hex", i.id_hex},
                   {"size", i.size},
                   {"chunk_size", i.chunk_size},
                   {"mtime_ns", i.mtime_ns}});
  }
  if (auto err = make_dirs(st.cfg.state_dir); !err.empty()) {
    spdlog::warn("share_registry: cannot create {}: {}", st.cfg.state_dir, err);
    return;
  }
  auto err = write_file_atomic(join_path(st.cfg.state_dir, "shares.json"),
                               arr.dump(2) + "\n");
  if (!err.empty())
    spdlog::warn("share_registry: cannot save shares.json: {}", err);
}

void save_manifest(registry_state& st, const share_entry& e) {
  if (!st.persistent())
    return;
  if (auto err = make_dirs(st.manifest_dir()); !err.empty()) {
    spdlog::warn("share_registry: cannot create {}: {}", st.manifest_dir(), err);
    return;
  }
  auto err = write_file_atomic(st.manifest_path(e.info.id_hex),
                               std::string(e.manifest.begin(), e.manifest.end()));
  if (!err.empty())
    spdlog::warn("share_registry: cannot save manifest of {}: {}", e.info.name, err);
}

void remove_manifest(registry_state& st, const std::string& id) {
  if (st.persistent())
    ::unlink(st.manifest_path(id).c_str());
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

// The manifest stored for `info`, if it is intact and matches the id.
std::optional<std::vector<char>> load_manifest(registry_state& st,
                                               const share_info& info) {
  auto bytes = read_file(st.manifest_path(info.id_hex));
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

void notify(registry_ptr self) {
  auto& st = self->state;
  ++st.version;
  auto tbl = st.table();
  for (auto& s : st.subscribers)
    self->send(s, shares_atom::value, tbl, st.version);
}

// Takes the share out of the table (no notification, no save).
void erase_share(registry_ptr self, const std::string& id) {
  auto& st = self->state;
  if (st.shares.erase(id) > 0)
    remove_manifest(st, id);
}

// Installs a freshly hashed file. Returns the share now offered for it.
share_info install(registry_ptr self, const std::string& path, const file_stat& fst,
                   std::vector<char> bytes) {
  auto& st = self->state;
  auto m = parse_manifest(bytes.data(), bytes.size());
  auto digest = sha256(bytes.data(), bytes.size());
  share_info info;
  info.name = base_name(path);
  info.path = path;
  info.id_hex = to_hex(digest.data(), digest.size());
  info.size = m ? m->size : fst.size;
  info.chunk_size = m ? m->chunk_size : 0;
  info.mtime_ns = fst.mtime_ns;
  bool changed = false;
  // An older share of this path (different content) goes away.
  for (auto it = st.shares.begin(); it != st.shares.end();) {
    if (it->second.info.path == path && it->first != info.id_hex) {
      remove_manifest(st, it->first);
      it = st.shares.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  auto i = st.shares.find(info.id_hex);
  if (i != st.shares.end() && i->second.info.path != path) {
    // Same content already shared under another path: keep that one.
    if (changed) {
      save_table(st);
      notify(self);
    }
    return i->second.info;
  }
  bool is_new = i == st.shares.end();
  share_entry e{info, std::move(bytes)};
  if (is_new)
    save_manifest(st, e);
  else if (i->second.info.size == info.size && i->second.info.mtime_ns == info.mtime_ns
           && !changed)
    return info; // nothing new
  st.shares[info.id_hex] = std::move(e);
  save_table(st);
  notify(self);
  if (is_new)
    spdlog::info("sharing {} ({} bytes, id {})", path, info.size,
                 info.id_hex.substr(0, 12));
  return info;
}

// Hashes `path` in a detached actor (at most max_hashers at once; the rest
// wait in a queue); calls `done` with the installed share or the error.
// `done` gets a null share_info and no error when the job was dropped
// (unshared while queued).
void hash_file(registry_ptr self, const std::string& path, hash_done done) {
  auto& st = self->state;
  auto gen = ++st.next_gen;
  st.hash_gen[path] = gen;
  auto fst = stat_regular(path);
  st.hash_queue.push_back(hash_job{path, gen, std::move(done), fst ? fst->size : 0});
  start_hashers(self);
}

void finish_hash(registry_ptr self, const hash_job& job, const file_stat& fst,
                 std::vector<char>& bytes) {
  auto& st = self->state;
  auto i = st.hash_gen.find(job.path);
  if (i == st.hash_gen.end() || i->second != job.gen) {
    // Superseded or unshared meanwhile: report, do not install.
    auto m = parse_manifest(bytes.data(), bytes.size());
    auto digest = sha256(bytes.data(), bytes.size());
    share_info info{base_name(job.path), job.path, to_hex(digest.data(), digest.size()),
                    m ? m->size : fst.size, m ? m->chunk_size : 0, fst.mtime_ns, false, {}};
    job.done(caf::error{}, &info);
    return;
  }
  st.hash_gen.erase(i);
  auto info = install(self, job.path, fst, std::move(bytes));
  job.done(caf::error{}, &info);
}

void start_hashers(registry_ptr self) {
  auto& st = self->state;
  while (st.hashers_running < st.max_hashers && !st.hash_queue.empty()) {
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
    ++st.hashers_running;
    auto chunk = st.cfg.chunk_size != 0 ? st.cfg.chunk_size : defaults::chunk_size;
    auto read = std::make_shared<std::atomic<uint64_t>>(0);
    st.hashing[job.gen] = running_hash{fst->size, read};
    auto h = self->spawn<caf::detached>(hasher, job.gen, st.stop_hashing, read);
    auto shared_job = std::make_shared<hash_job>(std::move(job));
    auto f = *fst;
    self->request(h, caf::infinite, hash_atom::value, shared_job->path, chunk)
      .then(
        [=](std::vector<char>& bytes) {
          --self->state.hashers_running;
          self->state.hashing.erase(shared_job->gen);
          finish_hash(self, *shared_job, f, bytes);
          start_hashers(self);
        },
        [=](caf::error& err) {
          auto& st = self->state;
          --st.hashers_running;
          st.hashing.erase(shared_job->gen);
          auto i = st.hash_gen.find(shared_job->path);
          if (i != st.hash_gen.end() && i->second == shared_job->gen)
            st.hash_gen.erase(i);
          shared_job->done(err, nullptr);
          start_hashers(self);
        });
  }
}

// Re-hash in the background after a change (nobody waits for the answer).
void rehash(registry_ptr self, const std::string& path) {
  if (self->state.hash_gen.count(path) > 0)
    return; // already being hashed
  hash_file(self, path, [path](const caf::error& err, const share_info* info) {
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
  std::vector<std::string> to_hash;
  for (auto& j : arr) {
    auto info = info_from_json(j);
    if (!info)
      continue;
    auto fst = stat_regular(info->path);
    if (!fst) {
      spdlog::info("no longer sharing {}: {}", info->path, errno_text(errno));
      remove_manifest(st, info->id_hex);
      dropped = true;
      continue;
    }
    if (fst->size != info->size || fst->mtime_ns != info->mtime_ns) {
      remove_manifest(st, info->id_hex);
      to_hash.push_back(info->path);
      dropped = true;
      continue;
    }
    auto bytes = load_manifest(st, *info);
    if (!bytes) {
      to_hash.push_back(info->path);
      dropped = true;
      continue;
    }
    st.shares[info->id_hex] = share_entry{*info, std::move(*bytes)};
  }
  if (dropped)
    save_table(st);
  for (auto& p : to_hash)
    rehash(self, p);
}

// -- handlers ------------------------------------------------------------------

caf::result<std::vector<share_info>> handle_share(registry_ptr self,
                                                  const std::string& arg) {
  if (arg.empty() || arg[0] != '/')
    return make_error(ec::bad_request, arg + ": path must be absolute");
  char* real = ::realpath(arg.c_str(), nullptr);
  if (real == nullptr)
    return path_error(arg, errno);
  std::string path{real};
  ::free(real);
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0)
    return path_error(arg, errno);
  std::vector<std::string> files;
  if (S_ISDIR(sb.st_mode)) {
    auto fs = files_under(path);
    if (!fs)
      return fs.error();
    files = std::move(*fs);
  } else if (S_ISREG(sb.st_mode)) {
    files.push_back(path);
  } else {
    return make_error(ec::bad_request, arg + ": not a regular file or directory");
  }
  auto& st = self->state;
  auto pending = std::make_shared<pending_share>();
  pending->rp = self->make_response_promise<std::vector<share_info>>();
  std::vector<std::string> to_hash;
  bool withdrawn = false;
  for (auto& f : files) {
    auto fst = stat_regular(f);
    if (!fst)
      continue; // vanished since the walk
    if (auto e = st.by_path(f)) {
      if (e->info.size == fst->size && e->info.mtime_ns == fst->mtime_ns) {
        pending->results.push_back(e->info);
        continue;
      }
      // Changed on disk: withdraw the stale share now, re-hash below.
      erase_share(self, e->info.id_hex);
      withdrawn = true;
    }
    to_hash.push_back(f);
  }
  if (withdrawn) {
    save_table(st);
    notify(self);
  }
  if (to_hash.empty()) {
    pending->rp.deliver(std::move(pending->results));
    return pending->rp;
  }
  pending->remaining = to_hash.size();
  for (auto& f : to_hash) {
    hash_file(self, f, [pending, f](const caf::error& err, const share_info* info) {
      if (err) {
        spdlog::warn("share_registry: cannot share {}: {}", f, describe(err).second);
        if (!pending->first_error)
          pending->first_error = err;
      } else if (info) {
        pending->results.push_back(*info);
      }
      if (--pending->remaining == 0) {
        // Partial success of a directory reports what was shared.
        if (pending->results.empty() && pending->first_error)
          pending->rp.deliver(pending->first_error);
        else
          pending->rp.deliver(std::move(pending->results));
      }
    });
  }
  return pending->rp;
}

caf::result<std::vector<share_info>> handle_unshare(registry_ptr self,
                                                    const std::string& arg) {
  auto& st = self->state;
  std::string real_arg = arg;
  if (!arg.empty() && arg[0] == '/') {
    if (char* r = ::realpath(arg.c_str(), nullptr)) {
      real_arg = r;
      ::free(r);
    }
  }
  auto under = [&](const std::string& path, const std::string& dir) {
    return dir.size() > 1 && path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0
           && path[dir.size()] == '/';
  };
  std::vector<share_info> removed;
  for (auto it = st.shares.begin(); it != st.shares.end();) {
    auto& i = it->second.info;
    if (i.name == arg || i.id_hex == arg || i.path == arg || i.path == real_arg
        || under(i.path, real_arg)) {
      removed.push_back(i);
      remove_manifest(st, it->first);
      it = st.shares.erase(it);
    } else {
      ++it;
    }
  }
  // Hashes under way for matching paths will not be installed.
  bool cancelled = false;
  for (auto it = st.hash_gen.begin(); it != st.hash_gen.end();) {
    if (it->first == arg || it->first == real_arg || under(it->first, real_arg)
        || base_name(it->first) == arg) {
      it = st.hash_gen.erase(it);
      cancelled = true;
    } else {
      ++it;
    }
  }
  if (removed.empty() && !cancelled)
    return make_error(ec::not_found, "no share matches " + arg);
  if (!removed.empty()) {
    save_table(st);
    notify(self);
    for (auto& i : removed)
      spdlog::info("stopped sharing {}", i.path);
  }
  return removed;
}

void handle_tick(registry_ptr self) {
  auto& st = self->state;
  std::vector<std::string> withdrawn;
  std::vector<std::string> changed_paths;
  for (auto& [id, e] : st.shares) {
    auto fst = stat_regular(e.info.path);
    if (!fst) {
      spdlog::info("no longer sharing {}: {}", e.info.path, errno_text(errno));
      withdrawn.push_back(id);
    } else if (fst->size != e.info.size || fst->mtime_ns != e.info.mtime_ns) {
      spdlog::info("{} changed on disk; re-hashing", e.info.path);
      withdrawn.push_back(id);
      changed_paths.push_back(e.info.path);
    }
  }
  if (withdrawn.empty())
    return;
  for (auto& id : withdrawn)
    erase_share(self, id);
  save_table(st);
  notify(self);
  for (auto& p : changed_paths)
    rehash(self, p);
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
  load_table(self);
  self->delayed_send(self, tick_interval, tick_atom::value);
  return {
    [=](share_atom, const std::string& path) { return handle_share(self, path); },
    [=](hash_atom) {
      auto& st = self->state;
      uint64_t files = st.hash_queue.size() + st.hashing.size();
      uint64_t left = 0;
      for (const auto& job : st.hash_queue)
        left += job.size;
      for (const auto& [gen, h] : st.hashing)
        left += h.size - std::min(h.size, h.read->load(std::memory_order_relaxed));
      return std::make_tuple(files, left);
    },
    [=](unshare_atom, const std::string& arg) { return handle_unshare(self, arg); },
    [=](list_atom) { return self->state.table(false); },
    [=](manifest_atom, const std::string& id) -> caf::result<std::vector<char>> {
      auto& st = self->state;
      auto i = st.shares.find(id);
      if (i == st.shares.end() && (i = st.partials.find(id)) == st.partials.end())
        return make_error(ec::not_found, "no share with id " + id);
      return i->second.manifest;
    },
    [=](partial_atom, share_info& info, std::vector<char>& manifest) {
      auto& st = self->state;
      info.partial = true;
      auto id = info.id_hex;
      st.partials[id] = share_entry{std::move(info), std::move(manifest)};
      if (st.shares.count(id) == 0)
        notify(self);
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
      auto manifest = std::move(i->second.manifest);
      st.partials.erase(i);
      auto fst = final_path.empty() ? std::nullopt : stat_regular(final_path);
      if (fst) // the download verified every chunk: no need to hash it again
        install(self, final_path, *fst, std::move(manifest));
      else if (st.shares.count(id) == 0)
        notify(self);
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
  };
}

} // namespace

share_registry_actor spawn_share_registry(caf::actor_system& sys, const config& cfg) {
  return sys.spawn(registry, cfg);
}

} // namespace p2p
