#pragma once
// JSON views of the actors' message structs, as the control channel shows them.
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/messages.hpp"

namespace p2p {

nlohmann::json to_json(const share_info& x);
// {"shares":[share...],"skipped":[{"path","reason"}]}
nlohmann::json to_json(const share_result& x);
nlohmann::json to_json(const file_offer& x);
nlohmann::json to_json(const peer_info& x);
nlohmann::json to_json(const download_info& x);

template <class T>
nlohmann::json to_json(const std::vector<T>& xs) {
  auto arr = nlohmann::json::array();
  for (const auto& x : xs)
    arr.push_back(to_json(x));
  return arr;
}

} // namespace p2p
