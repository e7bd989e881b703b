#include "workers/templates.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace cueball::workers {

using engine::StepContext;

// The value at a dotted path (a.b.0.c) of `root`, or null if absent.
const Json* Lookup(const Json& root, const std::string& path) {
  const Json* cur = &root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (cur->is_object()) {
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && !part.empty() &&
               std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t i = std::stoul(part);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

// The references (${...}) in a string; throws on an unclosed one.
std::vector<std::pair<size_t, size_t>> References(const std::string& s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while ((i = s.find("${", i)) != std::string::npos) {
    size_t end = s.find('}', i);
    if (end == std::string::npos) throw std::invalid_argument("unclosed ${ in '" + s + "'");
    out.push_back({i, end + 1});
    i = end + 1;
  }
  return out;
}

// Replaces references in every string of `v`. A string that is one whole
// reference takes the referenced value as is (a number stays a number).
Json Expand(const Json& v, const Json& ctx) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    auto refs = References(s);
    if (refs.empty()) return v;
    auto resolve = [&](const std::pair<size_t, size_t>& r) {
      std::string path = s.substr(r.first + 2, r.second - r.first - 3);
      const Json* found = Lookup(ctx, path);
      if (!found || found->is_null()) throw std::invalid_argument("${" + path + "} is not set");
      return *found;
    };
    if (refs.size() == 1 && refs[0].first == 0 && refs[0].second == s.size())
      return resolve(refs[0]);
    std::string out;
    size_t at = 0;
    for (const auto& r : refs) {
      out += s.substr(at, r.first - at);
      Json val = resolve(r);
      out += val.is_string() ? val.get<std::string>() : val.dump();
      at = r.second;
    }
    return out + s.substr(at);
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& x : v) out.push_back(Expand(x, ctx));
    return out;
  }
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = Expand(it.value(), ctx);
    return out;
  }
  return v;
}

// Checks every reference in `v`: a known root, and steps.NAME only for an
// earlier step. Returns the first problem, or "".
std::string CheckReferences(const Json& v, const std::set<std::string>& earlier) {
  if (v.is_string()) {
    std::vector<std::pair<size_t, size_t>> refs;
    try {
      refs = References(v.get<std::string>());
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    for (const auto& r : refs) {
      std::string path = v.get<std::string>().substr(r.first + 2, r.second - r.first - 3);
      std::string root = path.substr(0, path.find('.'));
      if (root == "input" || path == "run.id" || path == "run.queue") continue;
      if (root == "steps") {
        std::string rest = path.size() > 6 ? path.substr(6) : "";
        std::string name = rest.substr(0, rest.find('.'));
        if (!earlier.count(name)) {
          return "${" + path + "}: '" + name + "' is not an earlier step";
        }
        continue;
      }
      return "${" + path + "}: references start with input., steps.NAME., run.id or run.queue";
    }
  } else if (v.is_array() || v.is_object()) {
    for (const auto& x : v) {
      std::string bad = CheckReferences(x, earlier);
      if (!bad.empty()) return bad;
    }
  }
  return "";
}

Json TemplateContext(const StepContext& ctx) {
  Json steps = ctx.state.is_object() ? ctx.state.value("steps", Json::object()) : Json::object();
  return {{"input", ctx.input},
          {"steps", steps},
          {"run", {{"id", ctx.run_id}, {"queue", ctx.queue ? *ctx.queue : std::string()}}}};
}

}  // namespace cueball::workers
