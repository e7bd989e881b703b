#include "server/api/auth.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "server/logging/logging.h"

namespace cueball::api {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

Authenticator::Authenticator(std::vector<std::string> static_tokens, std::string tokens_file)
    : static_tokens_(std::move(static_tokens)),
      file_(std::move(tokens_file)),
      enabled_(!static_tokens_.empty() || !file_.empty()) {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReload();
}

void Authenticator::MaybeReload() {
  if (file_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return;
  next_check_ = now + std::chrono::seconds(1);
  struct stat st {};
  long long mtime = -2;  // missing
  if (::stat(file_.c_str(), &st) == 0) {
    mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  }
  if (mtime == file_mtime_ns_) return;
  file_mtime_ns_ = mtime;
  auto log = spdlog::get("api");
  std::vector<std::string> tokens;
  std::ifstream in(file_);
  for (std::string line; std::getline(in, line);) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t e = line.find_last_not_of(" \t\r");
    std::string token = line.substr(b, e - b + 1);
    if (token.size() < 16) {
      if (log)
        logging::Warn(log, "auth token ignored",
                      {{"file", file_}, {"reason", "shorter than 16 characters"}});
      continue;
    }
    tokens.push_back(std::move(token));
  }
  if (log) logging::Info(log, "auth tokens loaded", {{"file", file_}, {"tokens", tokens.size()}});
  file_tokens_ = std::move(tokens);
}

size_t Authenticator::token_count() {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReload();
  return static_tokens_.size() + file_tokens_.size();
}

bool Authenticator::Allowed(const std::string& authorization) {
  if (!enabled_) return true;
  static const std::string kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      authorization.compare(0, kScheme.size(), kScheme) != 0) {
    return false;
  }
  const std::string presented = authorization.substr(kScheme.size());
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReload();
  bool ok = false;
  // Every token is compared, so the time taken does not say which matched.
  for (const auto& t : static_tokens_) ok |= ConstantTimeEquals(presented, t);
  for (const auto& t : file_tokens_) ok |= ConstantTimeEquals(presented, t);
  return ok;
}

}  // namespace cueball::api
