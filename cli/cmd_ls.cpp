// p2p-cli ls [DIR]: files available on the LAN; a folder shows as one row.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "storage/names.hpp"

namespace p2p::cli {

namespace {

// One row of `ls`: a file, or a folder summing the files under it.
struct ls_row {
  std::string name;   // bytes; a folder's ends with '/'
  uint64_t size = 0;
  std::set<std::string> seeders;
  std::string id;     // a file's content id
  size_t files = 0;   // a folder's file count
};

std::string bytes_of(const nlohmann::json& f) {
  auto text = json_str(f, "name");
  return name_from_json(text).value_or(text);
}

// The rows of the level `prefix` ("" or "DIR/"): files directly in it, and
// one row per folder below it. Sorted by name (the catalog order).
std::vector<ls_row> rows_at(const nlohmann::json& files, const std::string& prefix) {
  std::vector<ls_row> rows;
  std::map<std::string, size_t> folder_row;
  for (auto& f : files) {
    auto name = bytes_of(f);
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size())
      continue;
    auto slash = name.find('/', prefix.size());
    auto seeders = f.value("seeders", nlohmann::json::array());
    if (slash == std::string::npos) {
      ls_row r{name, json_u64(f, "size"), {}, json_str(f, "id"), 1};
      for (auto& s : seeders)
        if (s.is_string())
          r.seeders.insert(s.get<std::string>());
      rows.push_back(std::move(r));
      continue;
    }
    auto folder = name.substr(0, slash + 1);
    auto [it, added] = folder_row.emplace(folder, rows.size());
    if (added)
      rows.push_back(ls_row{folder, 0, {}, "", 0});
    auto& r = rows[it->second];
    r.size += json_u64(f, "size");
    r.files += 1;
    for (auto& s : seeders)
      if (s.is_string())
        r.seeders.insert(s.get<std::string>());
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](auto& a, auto& b) { return a.name < b.name; });
  return rows;
}

} // namespace

void add_ls_command(CLI::App& app, context& ctx) {
  auto dir = std::make_shared<std::string>();
  auto sub = app.add_subcommand(
    "ls", "List files available: name, size, seeders, short id (a folder as one row)");
  sub->footer("Example:\n  p2p-cli scan && p2p-cli ls && p2p-cli ls photos");
  sub->add_option("DIR", *dir, "list inside this folder (as `ls` shows it, without '/')");
  on_run(sub, ctx, [&ctx, dir] {
    control_client client(ctx.global);
    auto result = client.call("ls", nlohmann::json::object(), request_timeout_ms);
    auto files = result.value("files", nlohmann::json::array());
    auto prefix = *dir;
    while (!prefix.empty() && prefix.back() == '/')
      prefix.pop_back();
    if (!prefix.empty())
      prefix += '/';
    if (ctx.global.json) {
      if (prefix.empty())
        return print_json(result);
      // One entry per file under DIR, with its full name.
      auto under = nlohmann::json::array();
      for (auto& f : files)
        if (bytes_of(f).compare(0, prefix.size(), prefix) == 0)
          under.push_back(f);
      return print_json({{"files", std::move(under)}});
    }
    auto rows = rows_at(files, prefix);
    if (rows.empty() && !prefix.empty())
      throw failure(exit_code::failed, "not_found", "no folder named " + *dir + " on the LAN");
    if (rows.empty()) {
      std::cout << "no files found (`p2p-cli scan` asks the LAN now)\n";
      return;
    }
    table t({"NAME", "SIZE", "SEEDERS", "ID"}, {1, 2});
    for (auto& r : rows)
      t.add({printable_name(r.name), format_size(r.size), std::to_string(r.seeders.size()),
             r.files == 1 && !r.id.empty() ? short_id(r.id)
                                           : std::to_string(r.files) + " files"});
    t.print();
  });
}

} // namespace p2p::cli
