// Standard base64 (RFC 4648 §4, with '=' padding): binary keys inside JSON
// (manifest SST key ranges; the HTTP API's key_b64/value_b64 later).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace isle {

std::string base64_encode(std::string_view bytes);
// nullopt on any character outside the alphabet, bad padding or length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace isle
