// Secrets never reach logs or `cueballd config`: these helpers mask them.
#pragma once

#include <string>

namespace cueball {

// Removes the password from a PostgreSQL DSN (URL or key=value form).
std::string RedactDsn(const std::string& dsn);

}  // namespace cueball
