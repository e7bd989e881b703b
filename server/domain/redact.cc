#include "server/domain/redact.h"

#include <regex>

namespace cueball {

std::string RedactDsn(const std::string& dsn) {
  static const std::regex kUrlPassword(R"(^([a-z]+://[^:/@]+:)[^@]*@)");
  static const std::regex kKvPassword(R"((password\s*=\s*)(\S+))");
  std::string out = std::regex_replace(dsn, kUrlPassword, "$1****@");
  return std::regex_replace(out, kKvPassword, "$1****");
}

}  // namespace cueball
