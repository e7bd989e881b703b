// Text from step handlers (a command's output, an exception's message) may
// hold bytes that are not UTF-8. PostgreSQL refuses such text and nlohmann's
// dump throws on it, so the engine makes it valid before it is recorded.
#pragma once

#include <string>
#include <string_view>

namespace cueball {

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` with each invalid sequence replaced by U+FFFD (as a decoder would show
// it: one replacement per maximal invalid subpart); valid text is unchanged.
std::string ValidUtf8(std::string_view s);

// `s` as text PostgreSQL can store: ValidUtf8, and each NUL (which text and
// jsonb strings cannot hold) replaced by U+FFFD as well.
std::string StorableText(std::string_view s);

// JSON text (as nlohmann dumps it) that PostgreSQL's jsonb accepts: each
// \u0000 escape in a string or key becomes \ufffd. Other text is unchanged.
std::string StorableJson(std::string json);

}  // namespace cueball
