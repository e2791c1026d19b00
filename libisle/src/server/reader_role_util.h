// What readerd and tailerd share: the config keys of a reader (under
// `reader.` or `tailer.`), ReaderOptions built from them, the reader's
// Prometheus families, and the JSON form of a manifest view
// (GET /v1/manifest).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "isle/options.h"
#include "isle/reader.h"
#include "server/config.h"
#include "server/daemon.h"

namespace isle::server {

class Metrics;

// Adds `<section>.refresh_interval`, caches, cache_dir, verification keys.
void add_reader_keys(ConfigSchema& schema, const std::string& section,
                     const std::string& default_refresh);
// ReaderOptions from those keys. A `<section>.verify_public_key_file` that
// is set must hold a readable Ed25519 public key PEM: a missing, unreadable
// or empty file, or any other contents, is InvalidArgument naming the key
// and the path (the daemon exits 78), so verification is never silently off.
Result<ReaderOptions> reader_options(const DaemonContext& ctx, const std::string& section);

void register_reader_metrics(Metrics& m, std::function<ReaderStats()> stats,
                             std::function<ManifestInfo()> manifest);

// {"log_position":..,"writer_epoch":..,"max_committed_lsn":..,"low_watermark_lsn":..,
//  "l0":[{table}...],"runs":[[{table}..]..],"inline":[{table,"inline":true}..],
//  "inline_tables":N,"inline_bytes":B}
void manifest_to_json(const ManifestInfo& info, nlohmann::json& out);
// Just "inline_tables" and "inline_bytes": the inline flushes of the view
// not materialized yet (count, and bytes of SST data they carry).
void inline_counts_to_json(const ManifestInfo& info, nlohmann::json& out);
// Just "max_committed_lsn" and "low_watermark_lsn" (numbers, or null when
// unknown).
void lsn_to_json(const ManifestInfo& info, nlohmann::json& out);

}  // namespace isle::server
