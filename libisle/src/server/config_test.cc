// Config: defaults, YAML (nested and dotted keys), overrides after the file,
// and every rejection with its exact path and reason: unknown keys, wrong
// types, bad sizes/durations/ints/bools/enums, missing required keys,
// non-map documents, scalar sections, map values, duplicate keys, syntax
// errors with line and column, several documents. Plus the size and
// duration parsers, format_duration, dump() redaction, and schema misuse.
#include "server/config.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

namespace isle::server {
namespace {

using namespace std::chrono_literals;
using T = ConfigType;

ConfigSchema test_schema() {
  ConfigSchema s;
  s.add({.path = "store.url", .type = T::kString, .help = "url", .required = true});
  s.add({.path = "store.prefix", .type = T::kString});
  s.add({.path = "store.lease", .type = T::kDuration, .default_value = "30s"});
  s.add({.path = "server.max_connections", .type = T::kInt, .default_value = "1024", .min = 1,
         .max = 1'000'000});
  s.add({.path = "server.offset", .type = T::kInt, .default_value = "-5"});
  s.add({.path = "server.max_body_bytes", .type = T::kSize, .default_value = "64MiB"});
  s.add({.path = "server.tls_key", .type = T::kString, .secret = true});
  s.add({.path = "log.level", .type = T::kEnum, .default_value = "info",
         .choices = {"debug", "info", "warn"}});
  s.add({.path = "log.access", .type = T::kBool, .default_value = "true"});
  s.add({.path = "writer.memtable_size", .type = T::kSize, .default_value = "64MiB"});
  s.add({.path = "writer.flush_interval", .type = T::kDuration, .default_value = "100ms"});
  s.add({.path = "writer.deep.knob", .type = T::kInt, .default_value = "0"});
  return s;
}

// Loads `yaml` with store.url given (unless the YAML or overrides set it).
Result<Config> load(const std::string& yaml, std::vector<std::string> overrides = {}) {
  static const ConfigSchema schema = test_schema();
  overrides.insert(overrides.begin(), "store.url=mem://");
  return load_config(schema, &yaml, overrides);
}

// The error message of loading `yaml` ("" when it loaded).
std::string error_of(const std::string& yaml, std::vector<std::string> overrides = {}) {
  auto r = load(yaml, std::move(overrides));
  if (r.ok()) return "";
  EXPECT_TRUE(r.status().is_invalid_argument());
  return r.status().message();
}

TEST(Config, DefaultsWithoutAFileOrWithAnEmptyOne) {
  const ConfigSchema schema = test_schema();
  for (const std::optional<std::string>& text :
       {std::optional<std::string>(), std::optional<std::string>(""),
        std::optional<std::string>("# only a comment\n"), std::optional<std::string>("---\n")}) {
    auto c = load_config(schema, text ? &*text : nullptr, {"store.url=file:///tmp/x"});
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->get_string("store.url"), "file:///tmp/x");
    EXPECT_EQ(c->get_string("store.prefix"), "");
    EXPECT_EQ(c->get_duration("store.lease"), 30s);
    EXPECT_EQ(c->get_int("server.max_connections"), 1024);
    EXPECT_EQ(c->get_int("server.offset"), -5);
    EXPECT_EQ(c->get_size("server.max_body_bytes"), 64u << 20);
    EXPECT_EQ(c->get_string("log.level"), "info");  // an enum reads as a string
    EXPECT_TRUE(c->get_bool("log.access"));
    EXPECT_EQ(c->get_duration("writer.flush_interval"), 100ms);
    EXPECT_TRUE(c->is_set("store.url"));
    EXPECT_FALSE(c->is_set("store.lease"));
  }
}

TEST(Config, NestedAndDottedKeysAndOverridesAfterTheFile) {
  auto c = load(
      "store:\n"
      "  prefix: db1\n"
      "  lease: 5m\n"
      "server.max_connections: 10\n"
      "writer:\n"
      "  memtable_size: 1GB\n"
      "  deep:\n"
      "    knob: 7\n"
      "log: {level: debug, access: false}\n",
      {"store.lease=1h", "writer.flush_interval=250us", "store.lease=2d", "store.prefix=a=b"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->get_string("store.prefix"), "a=b");  // split at the first '='
  EXPECT_EQ(c->get_duration("store.lease"), std::chrono::hours(48));  // the last override wins
  EXPECT_EQ(c->get_int("server.max_connections"), 10);
  EXPECT_EQ(c->get_size("writer.memtable_size"), 1'000'000'000u);
  EXPECT_EQ(c->get_int("writer.deep.knob"), 7);
  EXPECT_EQ(c->get_string("log.level"), "debug");
  EXPECT_FALSE(c->get_bool("log.access"));
  EXPECT_EQ(c->get_duration("writer.flush_interval"), 1ms);  // rounded up
  EXPECT_TRUE(c->is_set("writer.deep.knob"));
  EXPECT_FALSE(c->is_set("server.max_body_bytes"));
}

TEST(Config, UnknownKeysNameTheExactPath) {
  EXPECT_EQ(error_of("writer:\n  memtable_sizee: 1MiB\n"),
            "writer.memtable_sizee: unknown key (did you mean writer.memtable_size?)");
  EXPECT_EQ(error_of("wirter:\n  x: 1\n"), "wirter: unknown key");
  EXPECT_EQ(error_of("writer.deep.nob: 1\n"),
            "writer.deep.nob: unknown key (did you mean writer.deep.knob?)");
  EXPECT_EQ(error_of("", {"writer.bogus=1"}), "writer.bogus: unknown key");
  EXPECT_EQ(error_of("", {"writer=1"}), "writer: unknown key");  // a section is not a key
  EXPECT_EQ(error_of("", {"writer.memtable_size"}),
            "override 'writer.memtable_size': expected path=value");
}

TEST(Config, WrongTypesAndBadValuesNameThePathAndTheReason) {
  EXPECT_EQ(error_of("server:\n  max_connections: lots\n"),
            "server.max_connections: expected an integer, got 'lots'");
  EXPECT_EQ(error_of("server: {max_connections: 1.5}"),
            "server.max_connections: expected an integer, got '1.5'");
  EXPECT_EQ(error_of("server: {max_connections: 0}"),
            "server.max_connections: 0 is out of range [1, 1000000]");
  EXPECT_EQ(error_of("", {"server.max_connections=1000001"}),
            "server.max_connections: 1000001 is out of range [1, 1000000]");
  EXPECT_EQ(error_of("", {"server.offset=99999999999999999999"}),
            "server.offset: 99999999999999999999 is out of range [-9223372036854775808, "
            "9223372036854775807]");
  EXPECT_EQ(error_of("log: {access: yes}"), "log.access: expected true or false, got 'yes'");
  EXPECT_EQ(error_of("log: {level: verbose}"),
            "log.level: expected one of debug, info, warn, got 'verbose'");
  EXPECT_EQ(error_of("writer: {flush_interval: 30}"),
            "writer.flush_interval: a duration needs a unit (us, ms, s, m, h, d): got '30'");
  EXPECT_EQ(error_of("", {"writer.memtable_size=99999999TiB"}),
            "writer.memtable_size: '99999999TiB' is too large");
  EXPECT_EQ(error_of("", {"writer.memtable_size=64mb"}),
            "writer.memtable_size: unknown size unit 'mb' in '64mb' (use B, KB, MB, GB, TB, "
            "KiB, MiB, GiB or TiB)");
  // Overrides are checked the same way, and after the file.
  EXPECT_EQ(error_of("log: {level: warn}", {"log.level=loud"}),
            "log.level: expected one of debug, info, warn, got 'loud'");
}

TEST(Config, RequiredKeysMustBeSet) {
  const ConfigSchema schema = test_schema();
  auto c = load_config(schema, nullptr, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "store.url: required, not set");
  const std::string yaml = "store: {url: ''}\n";
  EXPECT_EQ(load_config(schema, &yaml, {}).status().message(), "store.url: required, not set");
  EXPECT_EQ(error_of("", {"store.url="}), "store.url: required, not set");
  const std::string ok = "store: {url: 'mem://'}\n";
  EXPECT_TRUE(load_config(schema, &ok, {}).ok());
}

TEST(Config, TheDocumentMustBeAMapOfSections) {
  EXPECT_EQ(error_of("- a\n- b\n"), "the config file must be a map of sections, got a list");
  EXPECT_EQ(error_of("just words"), "the config file must be a map of sections, got 'just words'");
  EXPECT_EQ(error_of("writer: 5\n"), "writer: is a section, expected a map, got '5'");
  EXPECT_EQ(error_of("writer: [a]\n"), "writer: is a section, expected a map, got a list");
  EXPECT_EQ(error_of("writer:\n  deep: on\n"), "writer.deep: is a section, expected a map, got 'on'");
  EXPECT_EQ(error_of("writer:\n  memtable_size: {a: 1}\n"),
            "writer.memtable_size: expected a size, got a map");
  EXPECT_EQ(error_of("store:\n  prefix: [a, b]\n"), "store.prefix: expected a string, got a list");
  EXPECT_EQ(error_of("? [a, b]\n: 1\n"),
            "top level: expected a key name, got a list (line 1, column 3)");
  EXPECT_EQ(error_of("a: 1\n---\nb: 2\n"), "the config file holds more than one YAML document; expected one");
}

TEST(Config, NullValues) {
  // An empty section is fine, an empty string key is "", a typed key needs a value.
  auto c = load("writer:\nstore:\n  prefix:\n");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->get_string("store.prefix"), "");
  EXPECT_TRUE(c->is_set("store.prefix"));
  EXPECT_EQ(error_of("writer:\n  memtable_size:\n"),
            "writer.memtable_size: expected a size, got nothing");
  EXPECT_EQ(error_of("log: {access: ~}\n"), "log.access: expected true or false, got nothing");
}

TEST(Config, DuplicateKeysAreRejected) {
  EXPECT_EQ(error_of("writer:\n  memtable_size: 1MiB\n  memtable_size: 2MiB\n"),
            "writer.memtable_size: duplicate key (line 3, column 3)");
  EXPECT_EQ(error_of("writer:\n  memtable_size: 1MiB\nwriter.memtable_size: 2MiB\n"),
            "writer.memtable_size: duplicate key (line 3, column 1)");
  EXPECT_EQ(error_of("writer: {deep: {knob: 1}}\nwriter: {memtable_size: 1MiB}\n"),
            "writer: duplicate key (line 2, column 1)");
  EXPECT_EQ(error_of("{log: {}, log: {}}"), "log: duplicate key (line 1, column 11)");
}

TEST(Config, SyntaxErrorsGiveLineAndColumn) {
  const std::string e = error_of("store:\n  url: [a, b\nwriter: 1\n");
  EXPECT_EQ(e.rfind("YAML syntax error at line ", 0), 0u) << e;
  EXPECT_NE(e.find("line 3, column"), std::string::npos) << e;
  EXPECT_EQ(error_of("a:\n  b: 1\n c: 2\n"), "YAML syntax error at line 3, column 2: end of map not found");
  EXPECT_EQ(error_of("a: *nowhere\n"),
            "YAML syntax error at line 1, column 4: the referenced anchor is not defined");
}

// yaml-cpp recurses per nesting level; a file nested thousands deep must be
// a clear error, not a stack overflow.
TEST(Config, DeeplyNestedFilesAreRefusedNotParsed) {
  for (const std::string& text :
       {std::string(100000, '[') + std::string(100000, ']'), std::string(50000, '{'),
        "server:\n" + std::string(5000, ' ') + "listen: x\n",
        std::string(20000, '-') + " x\n"}) {
    auto c = load_config(test_schema(), &text, {});
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.status().message().find("too deep"), std::string::npos) << c.status().message();
  }
  // yaml-cpp 0.7's LoadAll never returns on this (found by isle_api_fuzz).
  const std::string endless = ",:z";
  EXPECT_FALSE(load_config(test_schema(), &endless, {}).ok());
  // Brackets inside quotes and comments do not count.
  const std::string fine = "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nstore:\n  url: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\n";
  auto c = load_config(test_schema(), &fine, {});
  ASSERT_TRUE(c.ok()) << c.status().message();
}

TEST(Config, DumpRedactsSecretsAndQuotesEmptyValues) {
  auto c = load("server: {tls_key: /etc/isle/key.pem}\nstore: {prefix: ' padded'}\n");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  const std::string d = c->dump();
  EXPECT_EQ(d,
            "log.access: true\n"
            "log.level: info\n"
            "server.max_body_bytes: 64MiB\n"
            "server.max_connections: 1024\n"
            "server.offset: -5\n"
            "server.tls_key: <redacted>\n"
            "store.lease: 30s\n"
            "store.prefix: \" padded\"\n"
            "store.url: mem://\n"
            "writer.deep.knob: 0\n"
            "writer.flush_interval: 100ms\n"
            "writer.memtable_size: 64MiB\n");
  EXPECT_EQ(d.find("key.pem"), std::string::npos);
  auto e = load("");
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->dump().find("server.tls_key: <redacted>\nstore.lease: 30s\nstore.prefix: \"\"\n"),
            std::string::npos)
      << e->dump();
}

TEST(Config, OutlivesItsSchema) {
  std::optional<Config> c;
  {
    auto schema = std::make_unique<ConfigSchema>(test_schema());
    auto r = load_config(*schema, nullptr, {"store.url=x", "server.tls_key=k"});
    ASSERT_TRUE(r.ok());
    c = std::move(*r);
  }
  Config copy = *c;
  c.reset();
  EXPECT_EQ(copy.get_string("store.url"), "x");
  EXPECT_NE(copy.dump().find("server.tls_key: <redacted>"), std::string::npos);
}

TEST(Config, ParseSize) {
  struct Case { const char* text; uint64_t bytes; };
  for (const Case& k : {Case{"0", 0}, Case{"4096", 4096}, Case{"4096B", 4096},
                        Case{"512KiB", 512 * 1024}, Case{"64MiB", 64ull << 20},
                        Case{"64 MiB", 64ull << 20}, Case{"3GiB", 3ull << 30},
                        Case{"2TiB", 2ull << 40}, Case{"1KB", 1000}, Case{"5MB", 5'000'000},
                        Case{"1GB", 1'000'000'000}, Case{"7TB", 7'000'000'000'000},
                        Case{"8388607TiB", 8388607ull << 40}}) {
    std::string err;
    auto v = parse_size(k.text, &err);
    ASSERT_TRUE(v) << k.text << ": " << err;
    EXPECT_EQ(*v, k.bytes) << k.text;
  }
  for (const char* bad : {"", "MiB", "-1", "+1", "1.5GiB", "64mib", "64K", "0x10", "1 2",
                          "99999999TiB", "8388608TiB", "18446744073709551616",
                          "9223372036854775808"}) {
    std::string err;
    EXPECT_FALSE(parse_size(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  std::string err;
  EXPECT_FALSE(parse_size("18446744073709551616", &err));
  EXPECT_EQ(err, "'18446744073709551616' is too large");
  EXPECT_FALSE(parse_size("12 apples"));  // no error pointer: fine
  // Huge sizes are refused, never wrapped.
  for (const char* big : {"99999999999TiB", "99999999999999999999", "18446744073709551615",
                          "9223372036854775808B", "16777216TiB", "99999999999999999999KiB"}) {
    std::string why;
    EXPECT_FALSE(parse_size(big, &why)) << big;
    EXPECT_NE(why.find("is too large"), std::string::npos) << big << ": " << why;
  }
  EXPECT_FALSE(parse_size("99999999999EiB", &err));  // no such unit, and too large anyway
  EXPECT_NE(err.find("EiB"), std::string::npos) << err;
}

TEST(Config, ParseDurationAndFormatDuration) {
  struct Case { const char* text; std::chrono::milliseconds d; };
  for (const Case& k : {Case{"0s", 0ms}, Case{"0us", 0ms}, Case{"250us", 1ms}, Case{"1us", 1ms},
                        Case{"1500us", 2ms}, Case{"100ms", 100ms}, Case{"30s", 30s},
                        Case{"30 s", 30s}, Case{"5m", 5min}, Case{"1h", 1h},
                        Case{"1d", 24h}, Case{"36500d", kMaxDuration},
                        Case{"876000h", kMaxDuration},
                        Case{"3153600000000000us", kMaxDuration}}) {
    std::string err;
    auto v = parse_duration(k.text, &err);
    ASSERT_TRUE(v) << k.text << ": " << err;
    EXPECT_EQ(*v, k.d) << k.text;
  }
  for (const char* bad : {"", "30", "s", "-1s", "1.5s", "5min", "5 minutes", "1h30m", "3S",
                          "106751991168d", "99999999999999999999ms"}) {
    std::string err;
    EXPECT_FALSE(parse_duration(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  // Too large, never a wrapped or overflowed number: beyond 100 years, or
  // beyond 64 bits, or beyond int64 milliseconds once multiplied.
  for (const char* big : {"36501d", "3153600000001ms", "3153600000000001us",
                          "106751991167d",  // fits int64 ms, but now + it would not
                          "99999999999999999999h", "9223372036854775807s",
                          "9223372036854775807ms", "18446744073709551615ms",
                          "18446744073709551615us",  // (n + 999) / 1000 used to wrap to 0
                          "18446744073709551615d", "18446744073709551616s"}) {
    std::string err;
    auto v = parse_duration(big, &err);
    EXPECT_FALSE(v) << big << " parsed as " << (v ? v->count() : 0) << "ms";
    EXPECT_NE(err.find("is too large"), std::string::npos) << big << ": " << err;
  }
  std::string err;
  EXPECT_FALSE(parse_duration("1h30m", &err));
  EXPECT_EQ(err, "unknown duration unit 'h30m' in '1h30m' (use us, ms, s, m, h or d)");

  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(5min), "5m");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(48h), "2d");
  for (std::chrono::milliseconds d : {1ms, 999ms, 1001ms, 61000ms, 90000000ms, 123456789ms}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

TEST(ConfigDeathTest, SchemaAndGetterMisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(test_schema().add({.path = "store.url"}), "store.url: declared twice");
  EXPECT_DEATH(test_schema().add({.path = "store"}), "one is the other's section");
  EXPECT_DEATH(test_schema().add({.path = "store.url.x"}), "one is the other's section");
  EXPECT_DEATH(ConfigSchema().add({.path = "a..b"}), "invalid key path");
  EXPECT_DEATH(ConfigSchema().add({.path = "A.b"}), "invalid key path");
  EXPECT_DEATH(ConfigSchema().add({.path = "a.b", .type = T::kSize, .default_value = "lots"}),
               "a.b: bad default");
  EXPECT_DEATH(ConfigSchema().add({.path = "a.b", .type = T::kEnum, .default_value = "x"}),
               "enum without choices");
  EXPECT_DEATH(
      {
        auto c = load("");
        (void)c->get_int("server.max_body_bytes");
      },
      "server.max_body_bytes: read as an integer, declared as a size");
  EXPECT_DEATH(
      {
        auto c = load("");
        (void)c->get_string("nope");
      },
      "nope: not in the schema");
}

}  // namespace
}  // namespace isle::server
