// The data commands of `isle`: put, del, flush (each opens a Writer, which
// claims the writer fence), get, scan (a Reader) and tail (a
// TailingReader).
//
// Output conventions (docs/cli.md):
//   * get prints the raw value bytes (no newline added) or, with --hex, hex
//     and a newline;
//   * scan and tail print NDJSON, one object per line; a key or value that
//     is not valid UTF-8 appears as key_b64 / value_b64 instead (the
//     daemons' HTTP API convention);
//   * put / del print the write's sequence number once it is durable.
// Ctrl-C (SIGINT) or SIGTERM ends a tail cleanly with exit 0.
#include <signal.h>

#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli.h"
#include "server/config.h"
#include "isle/tailing_reader.h"

namespace isle::cli {
namespace {

// ---- arguments -----------------------------------------------------------------

// A key given on the command line: raw bytes, or hex with --key-hex.
// Returns nullopt (and sets *code) when it is missing, empty or bad hex.
std::optional<std::string> key_arg(const Context& ctx, const po::variables_map& vm,
                                   const char* name, bool required, int* code) {
  if (!vm.count(name)) {
    if (required) *code = ctx.usage_error(std::string("missing ") + name);
    return std::nullopt;
  }
  std::string v = vm[name].as<std::string>();
  if (vm.count("key-hex") && vm["key-hex"].as<bool>()) {
    auto d = hex_decode(v);
    if (!d) {
      *code = ctx.usage_error(std::string(name) + ": '" + v + "' is not hex");
      return std::nullopt;
    }
    v = std::move(*d);
  }
  if (required && v.empty()) {
    *code = ctx.usage_error(std::string(name) + " must not be empty");
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::milliseconds> ttl_arg(const Context& ctx, const po::variables_map& vm,
                                                 int* code) {
  if (!vm.count("ttl")) return std::chrono::milliseconds(0);
  std::string err;
  auto d = server::parse_duration(vm["ttl"].as<std::string>(), &err);
  if (!d || d->count() <= 0) {
    *code = ctx.usage_error("--ttl: " + (d ? std::string("must be positive") : err));
    return std::nullopt;
  }
  return d;
}

void add_key_hex(po::options_description& o) {
  o.add_options()("key-hex", po::bool_switch(), "keys on the command line are given in hex");
}

// A key range from --start/--end/--key-prefix: [lower, upper), upper "" =
// unbounded.
struct Range {
  std::string prefix, start, end;  // as given ("" = not given)
  std::string lower, upper;
  bool empty() const { return !upper.empty() && lower >= upper; }
  bool contains(std::string_view k) const {
    return k.substr(0, prefix.size()) == prefix && k >= lower && (upper.empty() || k < upper);
  }
};

void add_range_options(po::options_description& o) {
  o.add_options()
      ("start", po::value<std::string>(), "first key (inclusive)")
      ("end", po::value<std::string>(), "end key (exclusive)")
      ("key-prefix", po::value<std::string>(), "only keys with this prefix");
}

std::optional<Range> range_arg(const Context& ctx, const po::variables_map& vm, int* code) {
  Range r;
  int c = kExitOk;
  auto p = key_arg(ctx, vm, "key-prefix", false, &c);
  auto s = key_arg(ctx, vm, "start", false, &c);
  auto e = key_arg(ctx, vm, "end", false, &c);
  if (c != kExitOk) {
    *code = c;
    return std::nullopt;
  }
  r.prefix = p.value_or("");
  r.start = s.value_or("");
  r.end = e.value_or("");
  r.lower = std::max(r.start, r.prefix);
  std::string succ = prefix_successor(r.prefix);
  if (!r.end.empty() && !succ.empty()) {
    r.upper = std::min(r.end, succ);
  } else {
    r.upper = r.end.empty() ? succ : r.end;
  }
  return r;
}

std::string kv_line(std::string_view key, std::string_view value) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  set_bytes(j, "key", key);
  set_bytes(j, "value", value);
  return dump_line(j) + "\n";
}

// TSV field: valid UTF-8 keeps its characters with \\ \t \n \r and other
// control bytes escaped; anything else has every non-printable-ASCII byte
// as \xHH.
std::string tsv_field(std::string_view s) {
  const bool utf8 = valid_utf8(s);
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

int stdout_failed(const Context& ctx) { return ctx.fail("writing to stdout failed"); }

// ---- put / del / flush ------------------------------------------------------------

int finish_write(Context& ctx, Writer& w, const char* what, Result<uint64_t> seq) {
  if (!seq.ok()) {
    (void)w.close();
    return ctx.fail(what, seq.status());
  }
  Status s = w.flush();
  if (!s.ok()) return ctx.fail(std::string(what) + ": flush", s);
  s = w.close();
  if (!s.ok()) return ctx.fail(std::string(what) + ": close", s);
  std::string out = ctx.json ? dump_line({{"seq", *seq}}) + "\n" : std::to_string(*seq) + "\n";
  return write_stdout(out) ? kExitOk : stdout_failed(ctx);
}

int run_put(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  auto key = key_arg(ctx, vm, "key", true, &code);
  if (!key) return code;
  std::string value;
  const bool has_value = vm.count("value") != 0, has_file = vm.count("value-file") != 0;
  if (has_value == has_file) {
    return ctx.usage_error("give the value as VALUE or with --value-file FILE ('-' = stdin)");
  }
  if (has_file) {
    auto data = read_file(vm["value-file"].as<std::string>());
    if (!data.ok()) return ctx.fail("put: reading the value", data.status());
    value = std::move(*data);
  } else {
    value = vm["value"].as<std::string>();
  }
  auto ttl = ttl_arg(ctx, vm, &code);
  if (!ttl) return code;
  auto w = ctx.writer(&code);
  if (!w) return code;
  auto seq = ttl->count() > 0 ? (*w)->put_with_ttl(*key, value, *ttl) : (*w)->put(*key, value);
  return finish_write(ctx, **w, "put", std::move(seq));
}

int run_del(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  auto key = key_arg(ctx, vm, "key", true, &code);
  if (!key) return code;
  auto w = ctx.writer(&code);
  if (!w) return code;
  return finish_write(ctx, **w, "del", (*w)->del(*key));
}

int run_flush(Context& ctx, const po::variables_map&) {
  int code = kExitOk;
  auto w = ctx.writer(&code);
  if (!w) return code;
  Status s = (*w)->flush();
  if (!s.ok()) return ctx.fail("flush", s);
  s = (*w)->close();
  if (!s.ok()) return ctx.fail("flush: close", s);
  const WriterStats st = (*w)->stats();
  std::string out;
  if (ctx.json) {
    out = dump_line({{"epoch", st.epoch}, {"last_seq", st.last_seq},
                     {"durable_seq", st.durable_seq}}) + "\n";
  } else {
    out = "flushed: writer epoch " + std::to_string(st.epoch) + ", durable up to seq " +
          std::to_string(st.durable_seq) + "\n";
  }
  return write_stdout(out) ? kExitOk : stdout_failed(ctx);
}

// ---- get / scan ---------------------------------------------------------------------

int run_get(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  auto key = key_arg(ctx, vm, "key", true, &code);
  if (!key) return code;
  auto r = ctx.reader(&code);
  if (!r) return code;
  auto v = (*r)->get(*key);
  if (!v.ok()) return ctx.fail("get " + printable(*key), v.status());
  if (!v->has_value()) {
    if (!ctx.quiet) std::fprintf(stderr, "isle: get: not found: %s\n", printable(*key).c_str());
    return kExitNotFound;
  }
  std::string out;
  if (ctx.json) {
    out = kv_line(*key, **v);
  } else if (vm["hex"].as<bool>()) {
    out = hex_encode(**v) + "\n";
  } else {
    out = **v;
  }
  return write_stdout(out) ? kExitOk : stdout_failed(ctx);
}

int run_scan(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  auto range = range_arg(ctx, vm, &code);
  if (!range) return code;
  const std::string format = vm["format"].as<std::string>();
  if (format != "ndjson" && format != "tsv") {
    return ctx.usage_error("--format must be ndjson or tsv, not '" + format + "'");
  }
  const uint64_t limit = vm.count("limit") ? vm["limit"].as<uint64_t>() : 0;
  auto r = ctx.reader(&code);
  if (!r) return code;
  if (range->empty()) return kExitOk;
  IteratorOptions io;
  if (!range->lower.empty()) io.lower_bound = range->lower;
  if (!range->upper.empty()) io.upper_bound = range->upper;
  auto it = (*r)->iterator(io);
  uint64_t n = 0;
  std::string buf;
  for (it->seek_to_first(); it->valid() && (limit == 0 || n < limit); it->next(), n++) {
    if (format == "tsv") {
      buf += tsv_field(it->key()) + "\t" + tsv_field(it->value()) + "\n";
    } else {
      buf += kv_line(it->key(), it->value());
    }
    if (buf.size() >= (1 << 16)) {
      if (!write_stdout(buf)) return stdout_failed(ctx);
      buf.clear();
    }
  }
  if (!write_stdout(buf)) return stdout_failed(ctx);
  if (!it->status().ok()) return ctx.fail("scan", it->status());
  return kExitOk;
}

// ---- tail ---------------------------------------------------------------------------

// While alive: SIGINT and SIGTERM no longer kill the process; a watcher
// thread receives them (sigtimedwait) and calls `stop` once. Create it
// before anything starts threads: the signals are blocked in the calling
// thread, and threads inherit that, so no thread is ever interrupted inside
// a system call. The signals stay blocked afterwards (the process is about
// to exit; a late Ctrl-C is then simply ignored).
class InterruptWatcher {
 public:
  InterruptWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      const timespec tick{0, 50'000'000};
      while (!done_.load()) {
        if (sigtimedwait(&set_, nullptr, &tick) > 0) {
          interrupted_.store(true);
          std::function<void()> stop;
          {
            std::lock_guard lk(mu_);
            stop = stop_;
          }
          if (stop) stop();
          return;
        }
      }
    });
  }
  ~InterruptWatcher() {
    done_.store(true);
    thread_.join();
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // What to call on a signal (set once the thing to stop exists).
  void on_interrupt(std::function<void()> stop) {
    std::lock_guard lk(mu_);
    stop_ = std::move(stop);
    if (interrupted_.load() && stop_) stop_();
  }
  bool interrupted() const { return interrupted_.load(); }

 private:
  sigset_t set_;
  std::mutex mu_;
  std::function<void()> stop_;
  std::atomic<bool> done_{false};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

std::string event_line(const ChangeEvent& e) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["seq"] = e.seq;
  j["op"] = e.op == ChangeOp::kPut ? "put" : "delete";
  set_bytes(j, "key", e.key);
  if (e.op == ChangeOp::kPut) set_bytes(j, "value", e.value);
  if (e.expires_at_ms) j["expires_at"] = *e.expires_at_ms;
  return dump_line(j) + "\n";
}

int run_tail(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const std::string mode = vm["mode"].as<std::string>();
  if (mode != "changes" && mode != "keys") {
    return ctx.usage_error("--mode must be changes or keys, not '" + mode + "'");
  }
  const bool keys_mode = mode == "keys";
  const bool follow = vm["follow"].as<bool>();
  if (keys_mode && vm.count("after-seq")) return ctx.usage_error("--after-seq is for --mode changes");
  if (!keys_mode && vm.count("after-key")) return ctx.usage_error("--after-key is for --mode keys");
  auto range = range_arg(ctx, vm, &code);
  if (!range) return code;
  auto after_key = key_arg(ctx, vm, "after-key", false, &code);
  if (code != kExitOk) return code;
  std::string err;
  auto interval = server::parse_duration(vm["interval"].as<std::string>(), &err);
  if (!interval || interval->count() <= 0) {
    return ctx.usage_error("--interval: " + (interval ? std::string("must be positive") : err));
  }
  const uint64_t limit = vm.count("limit") ? vm["limit"].as<uint64_t>() : 0;

  std::unique_ptr<TailingReader> reader;  // outlives the watcher, which may stop() it
  InterruptWatcher watcher;               // before any thread exists
  auto store = ctx.store(&code);
  if (!store) return code;
  ReaderOptions ro;
  ro.prefix = ctx.prefix;
  ro.block_cache_bytes = uint64_t{16} << 20;
  ro.blob_cache_bytes = uint64_t{16} << 20;
  ro.refresh_interval = follow ? *interval : std::chrono::milliseconds(0);
  auto opened = TailingReader::open(*store, ro);
  if (!opened.ok()) return ctx.fail("opening tailing reader", opened.status());
  reader = std::move(*opened);
  TailingReader& tr = *reader;

  uint64_t delivered = 0;
  bool write_failed = false;
  // Prints one event; false = end the tail.
  auto emit = [&](const ChangeEvent& e) {
    if (!write_stdout(event_line(e))) {
      write_failed = true;
      return false;
    }
    if (follow) std::fflush(stdout);
    return limit == 0 || ++delivered < limit;
  };

  watcher.on_interrupt([&] { tr.stop(); });
  Status s;
  if (keys_mode && !follow) {
    // One pass over the current view in key order (what a keys tail
    // delivers before it starts waiting).
    Range r = *range;
    if (after_key) r.lower = std::max(r.lower, *after_key + std::string(1, '\0'));
    if (r.empty()) return kExitOk;
    IteratorOptions io;
    if (!r.lower.empty()) io.lower_bound = r.lower;
    if (!r.upper.empty()) io.upper_bound = r.upper;
    auto it = tr.iterator(io);
    for (it->seek_to_first(); it->valid() && !watcher.interrupted(); it->next()) {
      ChangeEvent e;
      e.seq = it->sequence();
      e.key = std::string(it->key());
      e.value = std::string(it->value());
      if (!emit(e)) break;
    }
    s = it->status();
  } else if (!follow) {
    // The change feed up to the newest write of the view opened above,
    // then exit. The feed runs unfiltered so that it is known to reach that
    // write (the last one delivered); the key range is applied here.
    const uint64_t target = tr.manifest().data_seq;
    const uint64_t cursor = vm.count("after-seq") ? vm["after-seq"].as<uint64_t>() : 0;
    if (cursor >= target) return kExitOk;
    TailOptions to;
    to.mode = TailMode::kChanges;
    to.after_seq = cursor;
    s = tr.tail(to, [&](const ChangeEvent& e) {
      if (range->contains(e.key) && !emit(e)) return false;
      return e.seq < target;
    });
  } else {
    TailOptions to;
    to.mode = keys_mode ? TailMode::kKeys : TailMode::kChanges;
    to.prefix = range->prefix;
    to.min_key = range->start;
    if (!range->end.empty()) to.end_key = range->end;
    if (vm.count("after-seq")) to.after_seq = vm["after-seq"].as<uint64_t>();
    to.after_key = after_key;
    s = tr.start();
    if (s.ok()) s = tr.tail(to, emit);
  }
  if (write_failed) return stdout_failed(ctx);
  if (s.is_stopped()) s = Status::OK();  // interrupted: stop() ended the tail
  if (!s.ok()) {
    if (s.is_change_cursor_expired()) {
      std::fprintf(stderr,
                   "isle: tail: the cursor is older than the history the database keeps "
                   "(exit 4): %s\n",
                   s.message().c_str());
      return kExitCursorExpired;
    }
    return ctx.fail("tail", s);
  }
  return kExitOk;
}

}  // namespace

void add_kv_commands(std::vector<Command>* out) {
  const char* fence_note =
      "WARNING: this opens a writer, which claims the writer fence of the database: a\n"
      "running writer (writerd, or any program with a Writer open) is FENCED and stops.\n"
      "Use it on a database no daemon is writing, or accept that takeover.";

  out->push_back(Command{
      "put", "KEY [VALUE] [--value-file F|-] [--ttl 30s]",
      "write one key (opens a writer: fences a running writerd), print its sequence",
      std::string(fence_note) +
          "\n\nThe value is VALUE, or the bytes of --value-file (- = stdin). The write is\n"
          "flushed and durable when the sequence number is printed.",
      [](po::options_description& o, po::positional_options_description& p) {
        o.add_options()
            ("key", po::value<std::string>(), "the key")
            ("value", po::value<std::string>(), "the value")
            ("value-file", po::value<std::string>(), "read the value from this file (- = stdin)")
            ("ttl", po::value<std::string>(), "expire the key after this long (30s, 5m, 1h, ...)");
        add_key_hex(o);
        p.add("key", 1).add("value", 1);
      },
      run_put});

  out->push_back(Command{
      "del", "KEY", "delete one key (opens a writer: fences a running writerd), print its sequence",
      fence_note,
      [](po::options_description& o, po::positional_options_description& p) {
        o.add_options()("key", po::value<std::string>(), "the key");
        add_key_hex(o);
        p.add("key", 1);
      },
      run_del});

  out->push_back(Command{
      "flush", "", "open a writer, flush and close it (fences a running writerd)", fence_note,
      [](po::options_description&, po::positional_options_description&) {}, run_flush});

  out->push_back(Command{
      "get", "KEY [--hex]", "print a key's value (exit 3 when it does not exist)",
      "Prints the value's bytes exactly, with no newline added (--hex: hex and a\n"
      "newline; --json: {\"key\":...,\"value\":...}). A missing, deleted or expired key\n"
      "exits 3.",
      [](po::options_description& o, po::positional_options_description& p) {
        o.add_options()
            ("key", po::value<std::string>(), "the key")
            ("hex", po::bool_switch(), "print the value in hex");
        add_key_hex(o);
        p.add("key", 1);
      },
      run_get});

  out->push_back(Command{
      "scan", "[--start S] [--end E] [--key-prefix P] [--limit N] [--format ndjson|tsv]",
      "print live keys in order as NDJSON {\"key\",\"value\"} (or TSV)",
      "NDJSON: one {\"key\":...,\"value\":...} per line; a key or value that is not\n"
      "valid UTF-8 is given as key_b64 / value_b64 (base64) instead.\n"
      "TSV: KEY<tab>VALUE per line with \\\\ \\t \\n \\r and control bytes escaped (\\xHH);\n"
      "a field that is not valid UTF-8 has every non-ASCII byte as \\xHH.\n"
      "The key prefix filter is --key-prefix (--prefix is the database's folder).",
      [](po::options_description& o, po::positional_options_description&) {
        add_range_options(o);
        o.add_options()
            ("limit", po::value<uint64_t>(), "at most N keys")
            ("format", po::value<std::string>()->default_value("ndjson"), "ndjson or tsv");
        add_key_hex(o);
      },
      run_scan});

  out->push_back(Command{
      "tail", "[--mode changes|keys] [--after-seq N] [--key-prefix P] [-f]",
      "print the change feed (or the keys) as NDJSON events; -f follows new writes",
      "Events: {\"seq\":N,\"op\":\"put\"|\"delete\",\"key\":...,\"value\":...,\"expires_at\":MS}\n"
      "(value only for puts, expires_at only for puts with a TTL; key_b64/value_b64\n"
      "for bytes that are not valid UTF-8).\n"
      "--mode changes (default): every put and delete in sequence order after\n"
      "  --after-seq (exclusive). Without -f: from --after-seq (default 0 = all kept\n"
      "  history) up to the newest write, then exit. With -f: from --after-seq\n"
      "  (default: now), then follow new writes.\n"
      "--mode keys: the live keys in key order after --after-key; with -f, keys\n"
      "  appearing later beyond the last one are delivered too (append-only keyspaces).\n"
      "Ctrl-C / SIGTERM end the tail cleanly (exit 0). A cursor older than the history\n"
      "the database keeps exits 4.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()
            ("mode", po::value<std::string>()->default_value("changes"), "changes or keys")
            ("after-seq", po::value<uint64_t>(), "changes: start after this sequence")
            ("after-key", po::value<std::string>(), "keys: start after this key")
            ("follow,f", po::bool_switch(), "keep following new writes until interrupted")
            ("interval", po::value<std::string>()->default_value("1s"), "-f: how often to look for new writes")
            ("limit", po::value<uint64_t>(), "stop after N events");
        add_range_options(o);
        add_key_hex(o);
      },
      run_tail});
}

}  // namespace isle::cli
