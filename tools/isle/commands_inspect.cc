// The inspection commands of `isle`: `manifest show` (the replayed
// topology as JSON), `sst dump` (one SST's footer, properties, index and
// entries) and `verify` (every live SST and referenced blob read back and
// checked).
//
// They never write to the bucket and never open a writer. Corrupt objects
// are reported (exit 1 for a dump, exit 5 for verify), never a crash: every
// byte goes through the library's validating decoders, which return Status.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "format/blob_ref.h"
#include "format/block_format.h"
#include "format/block_reader.h"
#include "format/compression.h"
#include "format/internal_key.h"
#include "format/sst_reader.h"
#include "lsm/reader_access.h"
#include "manifest/manifest_types.h"
#include "progress.h"
#include "util/hash.h"

namespace isle::cli {
namespace {

using json = nlohmann::ordered_json;

// ---- manifest show ---------------------------------------------------------------

json sst_meta_json(const SstMeta& m, bool with_blobs) {
  json j = json::object();
  j["id"] = m.id;
  j["size_bytes"] = m.size;
  j["sha256"] = m.sha256;
  j["level"] = m.level;
  set_bytes(j, "min_key", m.min_key);
  set_bytes(j, "max_key", m.max_key);
  j["seq_lo"] = m.seq_lo;
  j["seq_hi"] = m.seq_hi;
  j["min_write_ms"] = m.min_write_ms;
  j["max_write_ms"] = m.max_write_ms;
  j["entries"] = m.num_entries;
  j["deletes"] = m.num_deletes;
  j["blob_refs"] = m.blobs.size();
  if (with_blobs) j["blobs"] = m.blobs;
  j["signed"] = !m.sig.empty();
  if (m.min_lsn) j["min_lsn"] = *m.min_lsn;
  if (m.max_lsn) j["max_lsn"] = *m.max_lsn;
  return j;
}

json fence_json(const Fence& f) {
  return {{"epoch", f.epoch}, {"owner", f.owner}, {"claimed_at_ms", f.claimed_at_ms}};
}

int run_manifest_show(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  auto r = ctx.reader(&code);
  if (!r) return code;
  const bool blobs = vm["blobs"].as<bool>();
  std::shared_ptr<const ManifestState> st = ReaderAccess::state(**r);
  json j = json::object();
  j["store"] = ctx.store_url;
  j["prefix"] = ctx.prefix;
  j["log_position"] = st->next_pos;
  j["log_seq_start"] = st->log_seq_start;
  j["last_seq"] = st->last_seq;
  j["data_seq"] = st->data_seq;
  j["seq_reserved"] = st->seq_reserved;
  j["entries_applied"] = st->entries_applied;
  j["entries_skipped"] = st->entries_skipped;
  j["fences"] = {{"writer", fence_json(st->fence(Role::kWriter))},
                 {"compactor", fence_json(st->fence(Role::kCompactor))},
                 {"retention", fence_json(st->fence(Role::kRetention))}};
  j["live_ssts"] = st->live_sst_count();  // SST objects (L0 and runs)
  j["live_bytes"] = st->live_bytes();
  uint64_t inline_bytes = 0;
  for (const SstMeta& m : st->inline_ssts) inline_bytes += m.size;
  j["inline_ssts"] = st->inline_ssts.size();
  j["inline_bytes"] = inline_bytes;
  if (auto v = st->max_committed_lsn()) j["max_committed_lsn"] = *v;
  if (auto v = st->low_watermark_lsn()) j["low_watermark_lsn"] = *v;
  json l0 = json::array();
  for (const SstMeta& m : st->l0) l0.push_back(sst_meta_json(m, blobs));
  j["l0"] = std::move(l0);
  json runs = json::array();
  for (const SortedRun& run : st->runs) {
    json ssts = json::array();
    for (const SstMeta& m : run.ssts) {
      ssts.push_back(sst_meta_json(m, blobs));
      ssts.back()["run"] = run.id;
    }
    runs.push_back(std::move(ssts));
  }
  j["runs"] = std::move(runs);
  // Inline flushes not materialized yet: their bytes are in the manifest.
  json inl = json::array();
  for (const SstMeta& m : st->inline_ssts) {
    inl.push_back(sst_meta_json(m, blobs));
    inl.back()["inline"] = true;
  }
  j["inline"] = std::move(inl);
  const std::string out = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return write_stdout(out) ? kExitOk : ctx.fail("writing to stdout failed");
}

// ---- sst dump --------------------------------------------------------------------

// "ID", "sstable/ID.sst" or "ID.sst" -> ID.
std::string sst_id_from_arg(std::string arg) {
  if (arg.rfind("sstable/", 0) == 0) arg = arg.substr(8);
  if (arg.size() > 4 && arg.compare(arg.size() - 4, 4, ".sst") == 0) arg.resize(arg.size() - 4);
  return arg;
}

json handle_json(const BlockHandle& h) { return {{"offset", h.offset}, {"size", h.size}}; }

json properties_json(const SstProperties& p) {
  json j = json::object();
  j["num_entries"] = p.num_entries;
  j["num_puts"] = p.num_puts;
  j["num_deletes"] = p.num_deletes;
  j["num_blob_refs"] = p.num_blob_refs;
  j["num_entries_with_expiry"] = p.num_entries_with_expiry;
  j["raw_key_bytes"] = p.raw_key_bytes;
  j["raw_value_bytes"] = p.raw_value_bytes;
  j["num_data_blocks"] = p.num_data_blocks;
  j["data_size"] = p.data_size;
  j["index_size"] = p.index_size;
  j["filter_size"] = p.filter_size;
  if (p.num_entries > 0) {
    j["min_sequence"] = p.min_sequence;
    j["max_sequence"] = p.max_sequence;
    set_bytes(j, "min_user_key", p.min_user_key);
    set_bytes(j, "max_user_key", p.max_user_key);
  }
  if (p.has_write_time) {
    j["min_write_time_ms"] = p.min_write_time_ms;
    j["max_write_time_ms"] = p.max_write_time_ms;
  }
  if (p.num_entries_with_expiry > 0) {
    j["min_expiry_ms"] = p.min_expiry_ms;
    j["max_expiry_ms"] = p.max_expiry_ms;
  }
  j["creation_time_ms"] = p.creation_time_ms;
  j["compression"] = std::string(compression_name(p.compression));
  j["compression_level"] = p.compression_level;
  j["block_size"] = p.block_size;
  j["bloom_bits_per_key"] = p.bloom_bits_per_key;
  j["restart_interval"] = p.restart_interval;
  j["format_version"] = p.format_version;
  return j;
}

const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kPut: return "put";
    case ValueKind::kDelete: return "delete";
    case ValueKind::kBlobRef: return "blob_ref";
  }
  return "unknown";
}

// The index block's entries (one per data block): its key and the data
// block's handle. Reads the index from the whole file held in memory.
Result<json> index_json(const std::string& file, const Footer& f) {
  const BlockHandle& h = f.index;
  if (h.end() > file.size()) return Status::Corruption("index block handle past the end of the file");
  std::string contents;
  ISLE_RETURN_IF_ERROR(unseal_block(std::string_view(file).substr(h.offset, h.stored_size()),
                                    true, "index block", &contents));
  ISLE_ASSIGN_OR_RETURN(BlockPtr block, Block::parse(std::move(contents), "index block"));
  json blocks = json::array();
  BlockIter it(block, compare_internal_keys, kInternalKeyTrailer);
  for (it.seek_to_first(); it.valid(); it.next()) {
    ParsedInternalKey ik;
    if (!parse_internal_key(it.key(), &ik)) return Status::Corruption("index block: bad key");
    std::string_view v = it.value();
    BlockHandle bh;
    if (!decode_block_handle(&v, &bh) || !v.empty()) {
      return Status::Corruption("index block: malformed block handle");
    }
    json b = {{"offset", bh.offset}, {"size", bh.size}};
    set_bytes(b, "index_key", ik.user_key);
    b["index_seq"] = ik.sequence;
    blocks.push_back(std::move(b));
  }
  if (!it.status().ok()) return it.status();
  return blocks;
}

// One entry of an SST as JSON; Corruption for a malformed value.
Result<json> entry_json(std::string_view ikey, std::string_view stored) {
  ParsedInternalKey ik;
  if (!parse_internal_key(ikey, &ik)) return Status::Corruption("bad internal key");
  std::string_view payload;
  uint64_t expires = 0;
  if (!decode_entry_value(ik.has_expiry, stored, &payload, &expires)) {
    return Status::Corruption("bad entry value (expiry prefix)");
  }
  json j = json::object();
  set_bytes(j, "key", ik.user_key);
  j["seq"] = ik.sequence;
  j["kind"] = kind_name(ik.kind);
  if (ik.has_expiry) j["expires_at"] = expires;
  if (ik.kind == ValueKind::kPut) {
    set_bytes(j, "value", payload);
  } else if (ik.kind == ValueKind::kBlobRef) {
    auto ref = decode_blob_ref(payload);
    if (!ref) return Status::Corruption("bad blob reference");
    j["blob"] = {{"sha256", ref->sha256_hex}, {"size", ref->size}};
  }
  return j;
}

int run_sst_dump(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const bool entries = vm["entries"].as<bool>();
  const bool blocks = vm["blocks"].as<bool>();
  const uint64_t limit = vm.count("limit") ? vm["limit"].as<uint64_t>() : 0;
  std::string data, name, id;
  json manifest = nullptr;
  if (vm.count("file")) {
    if (vm.count("id")) return ctx.usage_error("give an SST ID or --file, not both");
    name = vm["file"].as<std::string>();
    auto d = read_file(name);
    if (!d.ok()) return ctx.fail("sst dump", d.status());
    data = std::move(*d);
  } else {
    if (!vm.count("id")) return ctx.usage_error("missing SST ID (or --file PATH)");
    id = sst_id_from_arg(vm["id"].as<std::string>());
    name = sst_key(id);
    auto store = ctx.scoped_store(&code);
    if (!store) return code;
    auto got = (*store)->get(name);
    // Not found may be an inline SST: its bytes are in the manifest (below).
    if (!got.ok() && !got.status().is_not_found()) {
      return ctx.fail("sst dump: reading " + name, got.status());
    }
    if (got.ok()) data = std::move(got->data);
    // What the manifest says about it, when the manifest is readable.
    auto db = ctx.db(&code);
    if (!db) return code;
    ReaderOptions ro;
    ro.block_cache_bytes = 0;
    ro.blob_cache_bytes = 0;
    auto r = db->open_reader(ro);
    if (!r.ok()) {
      ctx.warn("cannot read the manifest (" + r.status().to_string() + "); dumping the SST alone");
    } else {
      auto st = ReaderAccess::state(**r);
      manifest = json{{"live", false}};
      auto match = [&](const SstMeta& m) {
        if (m.id != id) return;
        manifest = sst_meta_json(m, false);
        manifest["live"] = true;
        manifest["sha256_matches"] = m.sha256 == sha256_hex(data);
        manifest["size_matches"] = m.size == data.size();
      };
      if (got.ok()) {
        for (const auto& m : st->l0) match(m);
        for (const auto& run : st->runs) {
          for (const auto& m : run.ssts) match(m);
        }
      } else {
        for (const auto& m : st->inline_ssts) {
          if (m.id != id) continue;
          data = *m.inline_data.bytes;
          name = "inline SST " + id + " (in the manifest)";
          match(m);
          manifest["inline"] = true;
        }
      }
    }
    if (!got.ok() && !manifest.contains("inline")) {
      return ctx.fail("sst dump: reading " + sst_key(id), got.status());
    }
  }
  auto sst = SstReader::open(std::make_shared<MemorySource>(data, name));
  if (!sst.ok()) return ctx.fail("sst dump: opening " + name, sst.status());
  const Footer& f = (*sst)->footer();
  json j = json::object();
  if (!id.empty()) j["id"] = id;
  const bool is_inline = manifest.is_object() && manifest.contains("inline");
  j["object"] = is_inline ? json(nullptr) : json(name);
  if (is_inline) j["inline"] = true;
  j["size"] = data.size();
  j["sha256"] = sha256_hex(data);
  if (!id.empty()) j["manifest"] = manifest;
  j["footer"] = {{"format_version", f.format_version},
                 {"checksum_type", f.checksum_type},
                 {"filter", handle_json(f.filter)},
                 {"index", handle_json(f.index)},
                 {"properties", handle_json(f.properties)}};
  j["properties"] = properties_json((*sst)->properties());
  auto index = index_json(data, f);
  if (!index.ok()) return ctx.fail("sst dump: " + name, index.status());
  j["index"] = {{"data_blocks", index->size()}, {"has_filter", (*sst)->has_filter()}};
  if (blocks) j["index"]["blocks"] = std::move(*index);

  std::string out = j.dump(2, ' ', false, json::error_handler_t::replace);
  if (!entries) return write_stdout(out + "\n") ? kExitOk : ctx.fail("writing to stdout failed");
  // Stream the entries into the object: `..., "entries": [ {...}, ... ] }`.
  out.resize(out.size() - 2);  // drop "\n}"
  out += ",\n  \"entries\": [";
  auto it = (*sst)->new_iterator();
  uint64_t n = 0;
  Status bad;
  for (it->seek_to_first(); it->valid() && (limit == 0 || n < limit); it->next(), n++) {
    auto e = entry_json(it->key(), it->value());
    if (!e.ok()) {
      bad = e.status().with_context("entry " + std::to_string(n));
      break;
    }
    out += (n == 0 ? "\n    " : ",\n    ") + dump_line(*e);
    if (out.size() >= (1 << 16)) {
      if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
      out.clear();
    }
  }
  if (bad.ok()) bad = it->status();
  out += n == 0 ? "]\n}\n" : "\n  ]\n}\n";
  if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
  if (!bad.ok()) return ctx.fail("sst dump: " + name, bad);
  return kExitOk;
}

// ---- verify ----------------------------------------------------------------------

// How verify names an inline SST (it has no object key).
std::string inline_sst_name(const std::string& id) { return "inline:" + id; }

struct Problem {
  std::string object;
  std::string kind;  // "missing", "corrupt" or "error" (could not be checked)
  std::string message;
};

class Verifier {
 public:
  Verifier(ObjectStorePtr store, std::vector<SstMeta> ssts)
      : store_(std::move(store)), ssts_(std::move(ssts)) {
    for (const auto& m : ssts_) {
      for (const auto& b : m.blobs) add_blob(b, std::nullopt);
    }
  }

  void run(int jobs, ProgressLine* progress) {
    progress_ = progress;
    parallel(jobs, ssts_.size(), [&](size_t i) { check_sst(ssts_[i]); });
    std::vector<std::pair<std::string, std::optional<uint64_t>>> blobs;
    {
      std::lock_guard lk(mu_);
      blobs.assign(blobs_.begin(), blobs_.end());
    }
    parallel(jobs, blobs.size(), [&](size_t i) { check_blob(blobs[i].first, blobs[i].second); });
  }

  std::string progress_text() const {
    return std::to_string(ssts_done_.load()) + "/" + std::to_string(ssts_.size()) + " SSTs, " +
           std::to_string(blobs_done_.load()) + "/" + std::to_string(blobs_total_.load()) +
           " blobs, " + format_bytes(bytes_.load());
  }

  size_t sst_count() const { return ssts_.size(); }
  size_t blob_count() const { return blobs_total_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  std::vector<Problem> problems() const {
    std::lock_guard lk(mu_);
    std::vector<Problem> p = problems_;
    std::sort(p.begin(), p.end(), [](const Problem& a, const Problem& b) { return a.object < b.object; });
    return p;
  }

 private:
  template <typename F>
  void parallel(int jobs, size_t n, F f) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) f(i);
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < jobs && static_cast<size_t>(t) < n; t++) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
  }

  void add_blob(const std::string& sha, std::optional<uint64_t> size) {
    std::lock_guard lk(mu_);
    auto [it, inserted] = blobs_.emplace(sha, size);
    if (!inserted && size && !it->second) it->second = size;
    blobs_total_.store(blobs_.size());
  }

  void problem(std::string object, std::string kind, std::string message) {
    if (progress_) progress_->log("verify: " + kind + ": " + object + ": " + message);
    std::lock_guard lk(mu_);
    problems_.push_back({std::move(object), std::move(kind), std::move(message)});
  }

  // A failed GET: missing, corrupt (the store's own checks) or unchecked.
  void get_failed(const std::string& key, const Status& s) {
    if (s.is_not_found()) {
      problem(key, "missing", s.to_string());
    } else if (s.is_corruption()) {
      problem(key, "corrupt", s.to_string());
    } else {
      problem(key, "error", "could not be read: " + s.to_string());
    }
  }

  void check_sst(const SstMeta& m) {
    if (m.is_inline()) {
      // An inline flush has no object: its bytes came with the manifest.
      check_sst_bytes(m, inline_sst_name(m.id), std::string(*m.inline_data.bytes));
    } else {
      const std::string key = sst_key(m.id);
      auto got = store_->get(key);
      if (!got.ok()) get_failed(key, got.status());
      else check_sst_bytes(m, key, std::move(got->data));
    }
    ssts_done_++;
  }

  void check_sst_bytes(const SstMeta& m, const std::string& key, std::string data) {
    bytes_ += data.size();
    if (data.size() != m.size) {
      return problem(key, "corrupt",
                     "size " + std::to_string(data.size()) + ", the manifest records " +
                         std::to_string(m.size));
    }
    const std::string sha = sha256_hex(data);
    if (sha != m.sha256) {
      return problem(key, "corrupt", "sha256 " + sha + ", the manifest records " + m.sha256);
    }
    auto sst = SstReader::open(std::make_shared<MemorySource>(std::move(data), key));
    if (!sst.ok()) return problem(key, "corrupt", sst.status().to_string());
    uint64_t n = 0;
    auto it = (*sst)->new_iterator();
    for (it->seek_to_first(); it->valid(); it->next(), n++) {
      ParsedInternalKey ik;
      if (!parse_internal_key(it->key(), &ik)) {
        return problem(key, "corrupt", "entry " + std::to_string(n) + ": bad internal key");
      }
      if (ik.kind != ValueKind::kBlobRef) continue;
      std::string_view payload;
      uint64_t expires;
      std::optional<BlobRef> ref;
      if (decode_entry_value(ik.has_expiry, it->value(), &payload, &expires)) {
        ref = decode_blob_ref(payload);
      }
      if (!ref) return problem(key, "corrupt", "entry " + std::to_string(n) + ": bad blob reference");
      add_blob(ref->sha256_hex, ref->size);
    }
    if (!it->status().ok()) return problem(key, "corrupt", it->status().to_string());
    const uint64_t props = (*sst)->properties().num_entries;
    if (n != props || n != m.num_entries) {
      return problem(key, "corrupt",
                     std::to_string(n) + " entries read, properties say " + std::to_string(props) +
                         ", the manifest " + std::to_string(m.num_entries));
    }
  }

  void check_blob(const std::string& sha, std::optional<uint64_t> size) {
    const std::string key = blob_key(sha);
    auto got = store_->get(key);
    if (!got.ok()) {
      get_failed(key, got.status());
    } else {
      bytes_ += got->data.size();
      const std::string actual = sha256_hex(got->data);
      if (actual != sha) {
        problem(key, "corrupt", "content hashes to " + actual);
      } else if (size && *size != got->data.size()) {
        problem(key, "corrupt",
                "size " + std::to_string(got->data.size()) + ", referenced as " +
                    std::to_string(*size));
      }
    }
    blobs_done_++;
  }

  ObjectStorePtr store_;
  std::vector<SstMeta> ssts_;
  ProgressLine* progress_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, std::optional<uint64_t>> blobs_;  // sha -> size when known
  std::vector<Problem> problems_;
  std::atomic<size_t> ssts_done_{0}, blobs_done_{0}, blobs_total_{0};
  std::atomic<uint64_t> bytes_{0};
};

int run_verify(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const int jobs = vm["jobs"].as<int>();
  if (jobs < 1 || jobs > 256) return ctx.usage_error("--jobs must be 1..256");
  auto db = ctx.db(&code);
  if (!db) return code;
  auto r = db->open_reader(ReaderOptions{});
  if (!r.ok()) {
    if (r.status().is_corruption()) {
      std::printf("corrupt: manifest: %s\n", r.status().to_string().c_str());
      return kExitVerifyFailed;
    }
    return ctx.fail("verify: reading the manifest", r.status());
  }
  auto st = ReaderAccess::state(**r);
  std::vector<SstMeta> ssts(st->l0.begin(), st->l0.end());
  for (const auto& run : st->runs) ssts.insert(ssts.end(), run.ssts.begin(), run.ssts.end());
  // Inline flushes are checked from the bytes the manifest carries.
  const size_t inline_ssts = st->inline_ssts.size();
  ssts.insert(ssts.end(), st->inline_ssts.begin(), st->inline_ssts.end());
  auto store = ctx.scoped_store(&code);
  if (!store) return code;

  Verifier v(*store, std::move(ssts));
  ProgressLine progress("verify", [&] { return v.progress_text(); }, ctx.progress);
  progress.start();
  v.run(jobs, &progress);
  progress.finish();

  const std::vector<Problem> problems = v.problems();
  bool bad_data = false;
  for (const auto& p : problems) bad_data |= p.kind != "error";
  std::string out;
  if (ctx.json) {
    json j = {{"ok", problems.empty()}, {"ssts", v.sst_count()}, {"inline_ssts", inline_ssts},
              {"blobs", v.blob_count()},
              {"bytes", v.bytes()}, {"problems", json::array()}};
    for (const auto& p : problems) {
      j["problems"].push_back({{"object", p.object}, {"kind", p.kind}, {"message", p.message}});
    }
    out = dump_line(j) + "\n";
  } else {
    for (const auto& p : problems) out += p.kind + ": " + p.object + ": " + p.message + "\n";
    out += "verify: " + std::to_string(v.sst_count()) + " SSTs, " +
           (inline_ssts ? std::to_string(inline_ssts) + " of them inline, " : std::string()) +
           std::to_string(v.blob_count()) + " blobs, " + format_bytes(v.bytes()) + " checked: " +
           (problems.empty() ? std::string("ok")
                             : std::to_string(problems.size()) + " problem" +
                                   (problems.size() == 1 ? "" : "s")) +
           "\n";
  }
  if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
  if (bad_data) return kExitVerifyFailed;
  return problems.empty() ? kExitOk : kExitError;
}

}  // namespace

void add_inspect_commands(std::vector<Command>* out) {
  out->push_back(Command{
      "manifest show", "[--blobs]", "print the database's topology (the replayed manifest) as JSON",
      "Log position, sequence numbers, the three role fences, \"l0\": [tables] (oldest\n"
      "first) and \"runs\": [[tables]] (newest data first; the shape of readerd's\n"
      "/v1/manifest) with each SST's id, size_bytes, sha256, run, key\n"
      "range (min_key/max_key, or *_b64 when not UTF-8), sequence range, write times\n"
      "and entry counts; \"inline\": [tables] lists the inline flushes not\n"
      "materialized yet (bytes in the manifest, no sstable/ object). Always JSON.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("blobs", po::bool_switch(), "list each SST's blob hashes");
      },
      run_manifest_show});

  out->push_back(Command{
      "sst dump", "ID [--entries] [--blocks] [--limit N] | --file PATH",
      "print one SST's footer, properties, index summary (and entries) as JSON",
      "ID is an SST id as `manifest show` lists it (sstable/ID.sst works too); --file\n"
      "dumps a raw SST file from the local disk instead. --entries adds every entry\n"
      "(internal key: key, seq, kind put|delete|blob_ref, expires_at, value or blob).\n"
      "An inline flush (\"inline\" in `manifest show`) is read from the manifest.\n"
      "A corrupt SST exits 1 with the decoder's message. Always JSON.",
      [](po::options_description& o, po::positional_options_description& p) {
        o.add_options()
            ("id", po::value<std::string>(), "the SST id")
            ("file", po::value<std::string>(), "a local SST file instead of an id")
            ("entries", po::bool_switch(), "include the entries")
            ("blocks", po::bool_switch(), "include the index entries (one per data block)")
            ("limit", po::value<uint64_t>(), "at most N entries");
        p.add("id", 1);
      },
      run_sst_dump});

  out->push_back(Command{
      "verify", "[--jobs N]", "check every live SST and referenced blob (exit 5 on a problem)",
      "Downloads every live SST (an inline flush: takes its bytes from the\n"
      "manifest, named inline:ID), compares its size and sha256 with the manifest,\n"
      "opens it and reads every block (so each block checksum is checked) and\n"
      "counts its entries; then downloads every blob the SSTs reference and checks\n"
      "that its sha256 is its name. Each problem is listed as\n"
      "  missing|corrupt|error: OBJECT: what\n"
      "then a summary line. A progress line goes to stderr.\n"
      "Exit 0 all good; 5 when anything is corrupt or missing (an unreadable\n"
      "manifest included); 1 when objects could not be read (store errors) but\n"
      "nothing was found corrupt.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("jobs,j", po::value<int>()->default_value(4), "objects checked in parallel");
      },
      run_verify});
}

}  // namespace isle::cli
