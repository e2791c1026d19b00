// libFuzzer target: everything the daemons decode from network bytes or
// config files before a role sees it — percent-decoding of paths, query
// strings, NDJSON bodies with key/key_b64 fields, durations and sizes, and
// YAML configuration. None of it may crash, hang or leak on any input;
// errors must come back as Status.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/config.h"
#include "server/http.h"

using namespace isle::server;

namespace {

const ConfigSchema& schema() {
  static const ConfigSchema s = [] {
    ConfigSchema c;
    c.add({.path = "store.url", .type = ConfigType::kString, .required = true});
    c.add({.path = "server.listen", .type = ConfigType::kString, .default_value = "127.0.0.1:1"});
    c.add({.path = "server.max_connections", .type = ConfigType::kInt, .default_value = "10",
           .min = 1, .max = 100});
    c.add({.path = "server.max_body_bytes", .type = ConfigType::kSize, .default_value = "1MiB"});
    c.add({.path = "writer.flush_interval", .type = ConfigType::kDuration, .default_value = "100ms"});
    c.add({.path = "log.access", .type = ConfigType::kBool, .default_value = "true"});
    c.add({.path = "log.format", .type = ConfigType::kEnum, .default_value = "text",
           .choices = {"text", "json"}});
    return c;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto d = percent_decode(in);
      if (d) (void)percent_decode(percent_encode(*d));
      (void)key_from_path(in, "/v1/kv/");
      break;
    }
    case 1: {
      auto q = QueryParams::parse(in, {"ttl", "durable", "limit", "start"});
      if (q.ok()) {
        (void)q->get_duration("ttl");
        (void)q->get_bool("durable");
        (void)q->get_u64("limit");
      }
      break;
    }
    case 2: {
      auto lines = parse_ndjson(in);
      if (lines.ok()) {
        for (const auto& j : *lines) {
          (void)get_bytes(j, "key");
          (void)get_bytes(j, "value");
        }
      }
      break;
    }
    case 3:
      (void)parse_duration(in);
      (void)parse_size(in);
      break;
    case 4: {
      const std::string text(in);
      auto c = load_config(schema(), &text, {});
      if (c.ok()) (void)c->dump();
      break;
    }
    case 5: {
      const std::string text(in);
      (void)load_config(schema(), nullptr, {"store.url=x", text});
      nlohmann::json j;
      put_bytes(j, "key", in);
      (void)is_valid_utf8(in);
      break;
    }
  }
  return 0;
}
