// Human durations for flags and the CLI: "250ms", "30s", "5m", "2h", or a
// bare number of seconds ("30"). Shared by cueballd and the cueball CLI.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/domain/run.h"

namespace cueball {

// nullopt for anything malformed, negative or absurdly large (> 10 years).
std::optional<Millis> ParseDuration(std::string_view text);
std::string FormatDuration(Millis d);  // "250ms", "30s", "5m", "1h30m"

}  // namespace cueball
