// The version of cueball's daemon and CLI, shown by --version and recorded
// in the node registry.
#pragma once

namespace cueball {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace cueball
