// HTTP headers as the cloud code passes them around: (name in any case,
// value) pairs in sending order. Shared by the HTTP client and the request
// signers, which must see exactly the headers that are sent.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isle {

// Order matters only among headers of the same name (their values are
// combined in order when signing).
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header called `name`; nullptr when
// absent.
const std::string* find_header(const HttpHeaders& headers, std::string_view name);

}  // namespace isle
