// kvfile: a key-value store in a local folder, as a command-line tool.
//
//   kvfile DIR put KEY VALUE    write, and return only once it is durable
//   kvfile DIR get KEY          print the value (exit 1 when absent)
//   kvfile DIR del KEY          delete, durably
//   kvfile DIR scan [PREFIX]    print "KEY<TAB>VALUE" lines in key order
//
// It uses only the public headers (isle/*.h): the folder is opened as a
// file:// object store, the database lives under the prefix "kvfile" in
// it, writes go through a Writer and reads through a Reader.
//
// Invariants the example relies on and shows:
//   * Every command is its own process. A write is acknowledged ("ok") only
//     after Writer::await_durable returned OK, so the next process (or a
//     crash right after the ack) always sees it.
//   * Opening a Writer claims the writer fence: at most one process writes
//     the folder; a later writer fences an earlier one. Readers never write
//     and need no fence, so `get` and `scan` may run while a `put` runs.
// Exit codes: 0 ok, 1 key not found (get), 2 usage or error.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

#include "isle/db.h"
#include "isle/object_store.h"
#include "isle/reader.h"
#include "isle/writer.h"

namespace {

constexpr int kNotFound = 1;
constexpr int kError = 2;

int usage() {
  std::fprintf(stderr,
               "usage: kvfile DIR put KEY VALUE\n"
               "       kvfile DIR get KEY\n"
               "       kvfile DIR del KEY\n"
               "       kvfile DIR scan [PREFIX]\n");
  return kError;
}

int fail(std::string_view what, const isle::Status& s) {
  std::fprintf(stderr, "kvfile: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.to_string().c_str());
  return kError;
}

// file:// URLs are percent-decoded by open_object_store, so every byte of
// the absolute path that is not plainly safe is escaped.
std::string file_url(const std::filesystem::path& abs) {
  static const char* hex = "0123456789ABCDEF";
  std::string url = "file://";
  for (unsigned char c : abs.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      url.push_back(static_cast<char>(c));
    } else {
      url += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return url;
}

// The smallest key greater than every key starting with `prefix`, or ""
// (no upper bound) when the prefix is empty or all 0xff bytes.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// put / del: open the writer (claims the fence), write, wait until the
// write is committed to the bucket, close.
int write_one(const isle::DB& db, bool is_put, std::string_view key, std::string_view value) {
  isle::WriterOptions wo;
  wo.owner = "kvfile:" + std::to_string(::getpid());
  auto writer = db.open_writer(wo);
  if (!writer.ok()) return fail("open writer", writer.status());
  isle::Writer& w = **writer;
  auto seq = is_put ? w.put(key, value) : w.del(key);
  if (!seq.ok()) return fail(is_put ? "put" : "del", seq.status());
  // The durable ack: only after this returns OK is the write guaranteed to
  // survive this process.
  if (isle::Status s = w.await_durable(*seq); !s.ok()) return fail("await_durable", s);
  if (isle::Status s = w.close(); !s.ok()) return fail("close writer", s);
  std::printf("ok seq=%llu\n", static_cast<unsigned long long>(*seq));
  return 0;
}

int get_one(const isle::DB& db, std::string_view key) {
  auto reader = db.open_reader();
  if (!reader.ok()) return fail("open reader", reader.status());
  auto value = (*reader)->get(key);
  if (!value.ok()) return fail("get", value.status());
  if (!value->has_value()) {
    std::fprintf(stderr, "kvfile: %.*s: not found\n", static_cast<int>(key.size()), key.data());
    return kNotFound;
  }
  std::fwrite((*value)->data(), 1, (*value)->size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int scan(const isle::DB& db, const std::string& prefix) {
  auto reader = db.open_reader();
  if (!reader.ok()) return fail("open reader", reader.status());
  // An iterator streams the range in key order without holding it all in
  // memory (Reader::scan would return one vector).
  isle::IteratorOptions io;
  if (!prefix.empty()) io.lower_bound = prefix;
  if (std::string end = prefix_end(prefix); !end.empty()) io.upper_bound = end;
  auto it = (*reader)->iterator(io);
  size_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) {
    std::fwrite(it->key().data(), 1, it->key().size(), stdout);
    std::fputc('\t', stdout);
    std::fwrite(it->value().data(), 1, it->value().size(), stdout);
    std::fputc('\n', stdout);
    n++;
  }
  if (!it->status().ok()) return fail("scan", it->status());
  std::fprintf(stderr, "(%zu keys)\n", n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string cmd = argv[2];
  const int args = argc - 3;
  if ((cmd == "put" && args != 2) || ((cmd == "get" || cmd == "del") && args != 1) ||
      (cmd == "scan" && args > 1)) {
    return usage();
  }
  if (cmd != "put" && cmd != "get" && cmd != "del" && cmd != "scan") return usage();

  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::absolute(argv[1], ec);
  if (ec) {
    std::fprintf(stderr, "kvfile: %s: %s\n", argv[1], ec.message().c_str());
    return kError;
  }
  // The folder is a bucket; the database is its "kvfile" prefix.
  auto store = isle::open_object_store(file_url(dir.lexically_normal()));
  if (!store.ok()) return fail("open " + dir.string(), store.status());
  isle::DBOptions options;
  options.prefix = "kvfile";
  auto db = isle::DB::open(*store, options);
  if (!db.ok()) return fail("open database", db.status());

  if (cmd == "put") return write_one(*db, true, argv[3], argv[4]);
  if (cmd == "del") return write_one(*db, false, argv[3], {});
  if (cmd == "get") return get_one(*db, argv[3]);
  return scan(*db, args == 1 ? argv[3] : "");
}
