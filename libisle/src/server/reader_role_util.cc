// Shared reader plumbing for readerd and tailerd (see reader_role_util.h).
#include "server/reader_role_util.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/api.h"
#include "server/metrics.h"
#include "util/signing.h"

namespace isle::server {

void add_reader_keys(ConfigSchema& s, const std::string& section, const std::string& default_refresh) {
  using T = ConfigType;
  s.add({.path = section + ".refresh_interval", .type = T::kDuration, .default_value = default_refresh,
         .help = "re-read the manifest this often: an acknowledged write is visible within it"});
  s.add({.path = section + ".block_cache_size", .type = T::kSize, .default_value = "64MiB",
         .help = "in-memory SST block cache (0 = off)"});
  s.add({.path = section + ".blob_cache_size", .type = T::kSize, .default_value = "64MiB",
         .help = "in-memory blob cache (0 = off)"});
  s.add({.path = section + ".cache_dir", .type = T::kString,
         .help = "on-disk cache of SST ranges and blobs, kept across restarts (unset = none)"});
  s.add({.path = section + ".disk_cache_size", .type = T::kSize, .default_value = "1GiB",
         .help = "bytes the on-disk cache may hold"});
  s.add({.path = section + ".verify_sha256", .type = T::kBool, .default_value = "false",
         .help = "stream each SST once and check its sha256 before serving from it"});
  s.add({.path = section + ".blob_cache_max_item_size", .type = T::kSize, .default_value = "0",
         .help = "blobs larger than this are not kept in the in-memory blob cache (0 = no limit)"});
  s.add({.path = section + ".verify_blobs", .type = T::kBool, .default_value = "true",
         .help = "check every blob's sha256 against its reference (off: only its size)"});
  s.add({.path = section + ".range_read_min_sst_size", .type = T::kSize, .default_value = "0",
         .help = "SSTs smaller than this are fetched whole by one GET and kept in memory while live"});
  s.add({.path = section + ".allow_unverified_range_reads", .type = T::kBool,
         .default_value = "false",
         .help = "with verification on, serve SSTs of at least range_read_min_sst_size by ranged "
                 "reads WITHOUT checking their sha256 (logged as a warning at start)"});
  s.add({.path = section + ".verify_public_key_file", .type = T::kString,
         .help = "Ed25519 public keys (PEM, one or more): every SST must carry a signature by one"});
}

Result<ReaderOptions> reader_options(const DaemonContext& ctx, const std::string& section) {
  const Config& c = *ctx.config;
  ReaderOptions o;
  o.prefix = ctx.db.prefix;
  o.manifest_storage = ctx.db.manifest_storage;
  o.lease = ctx.db.lease;
  o.hedging = ctx.db.hedging;  // store.hedge.*
  o.refresh_interval = c.get_duration(section + ".refresh_interval");
  o.block_cache_bytes = c.get_size(section + ".block_cache_size");
  o.blob_cache_bytes = c.get_size(section + ".blob_cache_size");
  o.cache_dir = c.get_string(section + ".cache_dir");
  o.disk_cache_bytes = c.get_size(section + ".disk_cache_size");
  o.verify_sst_sha256 = c.get_bool(section + ".verify_sha256");
  o.blob_cache_max_item_size = c.get_size(section + ".blob_cache_max_item_size");
  o.verify_blobs_on_read = c.get_bool(section + ".verify_blobs");
  o.range_read_min_sst_size = c.get_size(section + ".range_read_min_sst_size");
  o.allow_unverified_range_reads = c.get_bool(section + ".allow_unverified_range_reads");
  if (auto path = c.get_string(section + ".verify_public_key_file"); !path.empty()) {
    // Fail closed: a key that was asked for but cannot be used must stop
    // the daemon, never leave verification off.
    // The file may hold several public keys (writer, compactor, rotation).
    auto v = Ed25519KeyRing::from_pem_file(path);
    if (!v.ok()) {
      // from_pem_file's messages name the path ("cannot open key file ...").
      return Status::InvalidArgument(section + ".verify_public_key_file: " + v.status().message());
    }
    o.verify_public_key_pem = v->public_keys_pem();
  }
  // Said once, at start (reader_options runs once per daemon start): the
  // library has no logger, the daemons do.
  if (o.allow_unverified_range_reads && (o.verify_sst_sha256 || !o.verify_public_key_pem.empty())) {
    spdlog::warn("{}.allow_unverified_range_reads is on: SSTs of {} bytes or more are served by "
                 "ranged reads whose bytes are NOT checked against the manifest's sha256",
                 section, o.range_read_min_sst_size);
  }
  if (!o.verify_blobs_on_read) {
    spdlog::warn("{}.verify_blobs is off: blobs are returned without checking their sha256",
                 section);
  }
  return o;
}

void register_reader_metrics(Metrics& m, std::function<ReaderStats()> stats,
                             std::function<ManifestInfo()> manifest) {
  struct Cache {
    const char* name;
    CacheCounters ReaderStats::*field;
  };
  static const Cache kCaches[] = {{"block", &ReaderStats::block_cache},
                                  {"disk", &ReaderStats::disk_cache},
                                  {"blob", &ReaderStats::blob_cache}};
  for (const auto& c : kCaches) {
    Labels l = {{"cache", c.name}};
    auto f = c.field;
    m.callback("isle_reader_cache_hits_total", "cache lookups that hit", "counter", l,
               [stats, f] { return static_cast<double>((stats().*f).hits); });
    m.callback("isle_reader_cache_misses_total", "cache lookups that missed", "counter", l,
               [stats, f] { return static_cast<double>((stats().*f).misses); });
    m.callback("isle_reader_cache_evictions_total", "cache entries evicted", "counter", l,
               [stats, f] { return static_cast<double>((stats().*f).evictions); });
    m.callback("isle_reader_cache_bytes", "bytes held by the cache", "gauge", l,
               [stats, f] { return static_cast<double>((stats().*f).bytes); });
  }
  m.callback("isle_reader_open_tables", "SSTs with pinned index and filter blocks", "gauge", {},
             [stats] { return static_cast<double>(stats().open_tables); });
  m.callback("isle_reader_refreshes_total", "manifest refreshes", "counter", {},
             [stats] { return static_cast<double>(stats().refreshes); });
  m.callback("isle_reader_manifest_requests_total", "CURRENT, snapshot and log GETs", "counter",
             {}, [stats] { return static_cast<double>(stats().manifest_requests); });
  m.callback("isle_reader_view_log_position", "next manifest log position of the reader's view",
             "gauge", {}, [manifest] { return static_cast<double>(manifest().log_position); });
  m.callback("isle_reader_view_last_seq", "highest committed sequence in the reader's view",
             "gauge", {}, [manifest] { return static_cast<double>(manifest().last_seq); });
  m.callback("isle_reader_l0_tables", "L0 SSTs in the reader's view", "gauge", {},
             [manifest] { return static_cast<double>(manifest().l0.size()); });
  m.callback("isle_reader_sorted_runs", "sorted runs in the reader's view", "gauge", {},
             [manifest] { return static_cast<double>(manifest().runs.size()); });
  m.callback("isle_reader_inline_tables",
             "inline flushes in the reader's view that are not materialized yet", "gauge", {},
             [manifest] { return static_cast<double>(manifest().inline_ssts.size()); });
}

namespace {

nlohmann::json table_json(const TableInfo& t) {
  nlohmann::json j;
  j["id"] = t.id;
  j["size_bytes"] = t.size;
  put_bytes(j, "min_key", t.min_key);
  put_bytes(j, "max_key", t.max_key);
  j["seq_lo"] = t.seq_lo;
  j["seq_hi"] = t.seq_hi;
  j["entries"] = t.entries;
  return j;
}

}  // namespace

void lsn_to_json(const ManifestInfo& info, nlohmann::json& out) {
  // null when some live SST carries no LSN range (or there is none).
  out["max_committed_lsn"] =
      info.max_committed_lsn ? nlohmann::json(*info.max_committed_lsn) : nlohmann::json(nullptr);
  out["low_watermark_lsn"] =
      info.low_watermark_lsn ? nlohmann::json(*info.low_watermark_lsn) : nlohmann::json(nullptr);
}

void manifest_to_json(const ManifestInfo& info, nlohmann::json& out) {
  out["log_position"] = info.log_position;
  out["log_seq_start"] = info.log_seq_start;
  out["last_seq"] = info.last_seq;
  out["data_seq"] = info.data_seq;
  out["writer_epoch"] = info.writer_epoch;
  out["writer_owner"] = info.writer_owner;
  out["compactor_epoch"] = info.compactor_epoch;
  out["retention_epoch"] = info.retention_epoch;
  lsn_to_json(info, out);
  nlohmann::json l0 = nlohmann::json::array();
  for (const auto& t : info.l0) l0.push_back(table_json(t));
  out["l0"] = std::move(l0);
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : info.runs) {
    nlohmann::json r = nlohmann::json::array();
    for (const auto& t : run) r.push_back(table_json(t));
    runs.push_back(std::move(r));
  }
  out["runs"] = std::move(runs);
  // Inline flushes (no sstable/ object): after the SST objects, each marked.
  nlohmann::json inl = nlohmann::json::array();
  for (const auto& t : info.inline_ssts) {
    inl.push_back(table_json(t));
    inl.back()["inline"] = true;
  }
  out["inline"] = std::move(inl);
  inline_counts_to_json(info, out);
}

void inline_counts_to_json(const ManifestInfo& info, nlohmann::json& out) {
  uint64_t bytes = 0;
  for (const auto& t : info.inline_ssts) bytes += t.size;
  out["inline_tables"] = info.inline_ssts.size();
  out["inline_bytes"] = bytes;
}

}  // namespace isle::server
