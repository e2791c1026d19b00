// The shared scaffolding of the `isle` tool (cli.h): the Context that opens
// the store and the database's roles on demand, error reporting with exit
// codes, and the byte/JSON/duration helpers the command groups share.
#include "cli.h"

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "lsm/engine_store.h"
#include "server/api.h"
#include "util/base64.h"

namespace isle::cli {

int exit_code_for(const Status& s) {
  if (s.code() == Code::kFenced) return kExitFenced;
  if (s.code() == Code::kChangeCursorExpired) return kExitCursorExpired;
  return kExitError;
}

// ---- Context ----------------------------------------------------------------

std::optional<ObjectStorePtr> Context::store(int* exit_code) {
  if (store_) return store_;
  if (store_url.empty()) {
    *exit_code = usage_error("no object store: give --store URL or set ISLE_STORE");
    return std::nullopt;
  }
  auto s = open_object_store(store_url);
  if (!s.ok()) {
    *exit_code = fail("opening store " + store_url, s.status());
    return std::nullopt;
  }
  store_ = *s;
  return store_;
}

std::optional<DBOptions> Context::db_options(int* exit_code) {
  DBOptions o;
  o.prefix = prefix;
  auto side = [&](const std::string& url) -> std::optional<ObjectStorePtr> {
    auto s = open_object_store(url);
    if (!s.ok()) {
      *exit_code = fail("opening store " + url, s.status());
      return std::nullopt;
    }
    return engine_store(*s, prefix, std::chrono::milliseconds(20));
  };
  if (!manifest_store_url.empty()) {
    auto s = side(manifest_store_url);
    if (!s) return std::nullopt;
    o.manifest_storage = object_store_manifest_storage(*s);
  }
  if (!gc_marks_store_url.empty()) {
    auto s = side(gc_marks_store_url);
    if (!s) return std::nullopt;
    o.gc_mark_storage = object_store_gc_mark_storage(*s);
  }
  return o;
}

std::optional<DB> Context::db(int* exit_code) {
  auto st = store(exit_code);
  if (!st) return std::nullopt;
  auto o = db_options(exit_code);
  if (!o) return std::nullopt;
  auto d = DB::open(*st, *o);
  if (!d.ok()) {
    *exit_code = fail("opening database", d.status());
    return std::nullopt;
  }
  return std::move(*d);
}

std::optional<std::unique_ptr<Reader>> Context::reader(int* exit_code) {
  auto d = db(exit_code);
  if (!d) return std::nullopt;
  ReaderOptions ro;
  ro.block_cache_bytes = uint64_t{16} << 20;
  ro.blob_cache_bytes = uint64_t{16} << 20;
  auto r = d->open_reader(ro);
  if (!r.ok()) {
    *exit_code = fail("opening reader", r.status());
    return std::nullopt;
  }
  return std::move(*r);
}

std::optional<std::unique_ptr<Writer>> Context::writer(int* exit_code) {
  auto d = db(exit_code);
  if (!d) return std::nullopt;
  warn("'" + command +
       "' opens a writer: it claims the writer fence, so a writer running on this database "
       "(writerd or another program) is fenced and stops");
  WriterOptions wo;
  wo.owner = "isle-cli:" + default_owner_name();
  auto w = d->open_writer(wo);
  if (!w.ok()) {
    *exit_code = fail("opening writer", w.status());
    return std::nullopt;
  }
  return std::move(*w);
}

std::optional<ObjectStorePtr> Context::scoped_store(int* exit_code) {
  auto st = store(exit_code);
  if (!st) return std::nullopt;
  return engine_store(*st, prefix, std::chrono::milliseconds(20));
}

int Context::fail(std::string_view what, const Status& s) const {
  std::fprintf(stderr, "isle: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.to_string().c_str());
  return exit_code_for(s);
}

int Context::fail(std::string_view message, int code) const {
  std::fprintf(stderr, "isle: %.*s\n", static_cast<int>(message.size()), message.data());
  return code;
}

int Context::usage_error(std::string_view message) const {
  std::string cmd = command.empty() ? "" : command + ": ";
  std::fprintf(stderr, "isle: %s%.*s\n", cmd.c_str(), static_cast<int>(message.size()),
               message.data());
  std::fprintf(stderr, "try 'isle %s--help'\n", command.empty() ? "" : (command + " ").c_str());
  return kExitUsage;
}

void Context::warn(std::string_view message) const {
  if (quiet) return;
  std::fprintf(stderr, "isle: warning: %.*s\n", static_cast<int>(message.size()),
               message.data());
}

// ---- bytes and JSON -----------------------------------------------------------

bool valid_utf8(std::string_view s) { return server::is_valid_utf8(s); }

void set_bytes(nlohmann::ordered_json& j, const std::string& name, std::string_view s) {
  if (valid_utf8(s)) {
    j[name] = std::string(s);
  } else {
    j[name + "_b64"] = base64_encode(s);
  }
}

std::string dump_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string hex_encode(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string printable(std::string_view bytes) {
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// ---- sizes, keys ---------------------------------------------------

std::string format_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < (uint64_t{1} << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else if (bytes < (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  }
  return buf;
}

std::string prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

Result<std::string> read_file(const std::string& path) {
  if (path == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return Status::IOError("reading stdin failed");
    return data;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("reading " + path + " failed");
  return ss.str();
}

bool write_stdout(std::string_view bytes) {
  if (bytes.empty()) return true;
  return std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size();
}

}  // namespace isle::cli
