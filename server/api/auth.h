// Authenticator: bearer-token authentication for the gRPC API. Tokens come
// from the configuration and/or a file (one per line, `#` comments) that is
// re-read when its modification time changes, so operators rotate tokens by
// writing the new one beside the old, rolling clients, then removing the old
// one, all without a restart. Comparison is constant-time. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace cueball::api {

class Authenticator {
 public:
  // Enabled when either source is given (an empty or missing file then
  // admits nobody, rather than everybody).
  Authenticator(std::vector<std::string> static_tokens, std::string tokens_file);

  bool enabled() const { return enabled_; }
  // `authorization` is the call's metadata value, e.g. "Bearer s3cr3t...".
  bool Allowed(const std::string& authorization);
  // Tokens currently accepted (after a reload when the file changed).
  size_t token_count();

 private:
  void MaybeReload();

  const std::vector<std::string> static_tokens_;
  const std::string file_;
  const bool enabled_;
  std::mutex mu_;
  std::vector<std::string> file_tokens_;
  std::chrono::steady_clock::time_point next_check_{};
  long long file_mtime_ns_ = -1;
};

// True when a and b are equal, in time that depends only on their lengths'
// maximum (no early exit on the first differing byte).
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace cueball::api
