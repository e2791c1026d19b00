// JSON codec for the manifest objects; see manifest_codec.h. nlohmann-json
// stays inside this file: exceptions it throws on bad input are caught here
// and turned into Corruption, so none crosses the API.
#include "manifest/manifest_codec.h"

#include "manifest/json_fields.h"
#include "util/base64.h"
#include "util/hash.h"

namespace isle {

using namespace json_fields;

namespace {

std::string get_b64(const json& j, const char* name) {
  auto d = base64_decode(get_str(j, name));
  if (!d) fail(std::string("field \"") + name + "\" is not valid base64");
  return *d;
}

json sst_to_json(const SstMeta& m) {
  json j = {{"id", m.id},
            {"size", m.size},
            {"sha256", m.sha256},
            {"min_key", base64_encode(m.min_key)},
            {"max_key", base64_encode(m.max_key)},
            {"seq_lo", m.seq_lo},
            {"seq_hi", m.seq_hi},
            {"min_write_ms", m.min_write_ms},
            {"max_write_ms", m.max_write_ms},
            {"num_entries", m.num_entries},
            {"num_deletes", m.num_deletes},
            {"level", m.level},
            {"blobs", m.blobs}};
  if (!m.sig.empty()) j["sig"] = m.sig;
  if (!m.sig_key_id.empty()) j["sig_key_id"] = m.sig_key_id;
  if (m.min_lsn) j["min_lsn"] = *m.min_lsn;
  if (m.max_lsn) j["max_lsn"] = *m.max_lsn;
  if (m.is_inline()) j["data"] = base64_encode(*m.inline_data.bytes);
  return j;
}

// Whether an SST may carry inline data where it is being decoded.
enum class InlineRule { kForbidden, kAllowed, kRequired };

SstMeta sst_from_json(const json& j, InlineRule rule = InlineRule::kForbidden) {
  SstMeta m;
  m.id = get_str(j, "id");
  if (m.id.empty() || m.id.size() > 200 || m.id.find('/') != std::string::npos) {
    fail("sst id \"" + m.id + "\" is not a valid id");
  }
  m.size = get_u64(j, "size");
  m.sha256 = get_str(j, "sha256");
  m.min_key = get_b64(j, "min_key");
  m.max_key = get_b64(j, "max_key");
  m.seq_lo = get_u64(j, "seq_lo");
  m.seq_hi = get_u64(j, "seq_hi");
  m.min_write_ms = get_i64(j, "min_write_ms");
  m.max_write_ms = get_i64(j, "max_write_ms");
  m.num_entries = get_u64(j, "num_entries");
  m.num_deletes = opt_u64(j, "num_deletes", 0);
  const uint64_t level = get_u64(j, "level");
  if (level > 1000) fail("sst level out of range");
  m.level = static_cast<uint32_t>(level);
  for (const auto& b : get_array(j, "blobs")) {
    if (!b.is_string()) fail("blob reference is not a string");
    m.blobs.push_back(b.get<std::string>());
  }
  m.sig = opt_str(j, "sig");
  m.sig_key_id = opt_str(j, "sig_key_id");
  if (j.contains("min_lsn")) m.min_lsn = get_u64(j, "min_lsn");
  if (j.contains("max_lsn")) m.max_lsn = get_u64(j, "max_lsn");
  if (m.seq_lo > m.seq_hi) fail("sst " + m.id + ": seq_lo > seq_hi");
  if (j.contains("data")) {
    if (rule == InlineRule::kForbidden) fail("sst " + m.id + ": inline data is not allowed here");
    const json& d = j.at("data");
    if (!d.is_string()) fail("sst " + m.id + ": inline data is not a string");
    // Refuse before decoding: base64 of n bytes is 4*ceil(n/3) chars.
    if (d.get_ref<const std::string&>().size() > (kMaxInlineSstBytes + 2) / 3 * 4) {
      fail("sst " + m.id + ": inline data larger than " + std::to_string(kMaxInlineSstBytes) +
           " bytes");
    }
    auto bytes = base64_decode(d.get_ref<const std::string&>());
    if (!bytes) fail("sst " + m.id + ": inline data is not valid base64");
    if (bytes->size() != m.size || sha256_hex(*bytes) != m.sha256) {
      fail("sst " + m.id + ": inline data does not match its sha256 and size");
    }
    if (m.level != 0) fail("sst " + m.id + ": inline sst at level " + std::to_string(m.level));
    m.inline_data.bytes = std::make_shared<const std::string>(std::move(*bytes));
  } else if (rule == InlineRule::kRequired) {
    fail("sst " + m.id + ": inline sst without data");
  }
  return m;
}

json fences_to_json(const std::array<Fence, kNumRoles>& fences) {
  json j = json::object();
  for (size_t i = 0; i < kNumRoles; i++) {
    const Fence& f = fences[i];
    j[std::string(role_name(static_cast<Role>(i)))] = {
        {"epoch", f.epoch}, {"owner", f.owner}, {"claimed_at", f.claimed_at_ms}};
  }
  return j;
}

std::array<Fence, kNumRoles> fences_from_json(const json& j) {
  std::array<Fence, kNumRoles> out;
  if (!j.is_object()) fail("fences is not an object");
  for (size_t i = 0; i < kNumRoles; i++) {
    const std::string name(role_name(static_cast<Role>(i)));
    if (!j.contains(name)) continue;
    const json& f = j[name];
    out[i].epoch = get_u64(f, "epoch");
    out[i].owner = get_str(f, "owner");
    out[i].claimed_at_ms = get_i64(f, "claimed_at");
  }
  return out;
}

template <typename T, typename F>
Result<T> decode_with(std::string_view bytes, std::string_view what, F body) {
  return decode_object<T>(bytes, what, "manifest", kManifestFormat, /*format_required=*/false,
                          body);
}

}  // namespace

std::string encode_entry(const LogEntry& e) {
  bool v2 = e.op == LogOp::kMaterialize || e.chained;
  for (const auto& s : e.added) v2 = v2 || s.is_inline();
  json j = {{"format", v2 ? kManifestFormatInline : 1},
            {"seq", e.pos},
            {"role", role_name(e.role)},
            {"epoch", e.epoch},
            {"owner", e.owner},
            {"ts", e.ts_ms},
            {"commit_id", e.commit_id},
            {"op", log_op_name(e.op)}};
  switch (e.op) {
    case LogOp::kFenceClaim:
      j["seq_floor"] = e.seq_floor;
      j["seq_reserved"] = e.seq_reserved;
      break;
    case LogOp::kAddSstable:
      j["sstable"] = e.added.empty() ? json(nullptr) : sst_to_json(e.added.front());
      j["last_seq"] = e.last_seq;
      j["seq_reserved"] = e.seq_reserved;
      j["prev_data_seq"] = e.prev_data_seq;
      if (e.chained) j["chained"] = true;
      break;
    case LogOp::kCompaction: {
      json out = json::array();
      for (const auto& s : e.added) out.push_back(sst_to_json(s));
      j["inputs"] = e.inputs;
      j["outputs"] = std::move(out);
      j["run_id"] = e.run_id;
      break;
    }
    case LogOp::kRemoveSstables:
      j["inputs"] = e.inputs;
      break;
    case LogOp::kCheckpoint:
      j["snapshot"] = e.snapshot_pos;
      break;
    case LogOp::kMaterialize:
      j["inputs"] = e.inputs;
      j["sstable"] = e.added.empty() ? json(nullptr) : sst_to_json(e.added.front());
      break;
  }
  return j.dump();
}

Result<LogEntry> decode_entry(std::string_view bytes, std::string_view what) {
  return decode_with<LogEntry>(bytes, what, [](const json& j) {
    LogEntry e;
    e.pos = get_u64(j, "seq");
    auto role = parse_role(get_str(j, "role"));
    if (!role) fail("unknown role \"" + get_str(j, "role") + "\"");
    e.role = *role;
    e.epoch = get_u64(j, "epoch");
    e.owner = get_str(j, "owner");
    e.ts_ms = get_i64(j, "ts");
    e.commit_id = get_str(j, "commit_id");
    auto op = parse_log_op(get_str(j, "op"));
    if (!op) fail("unknown op \"" + get_str(j, "op") + "\"");
    e.op = *op;
    switch (e.op) {
      case LogOp::kFenceClaim:
        e.seq_floor = get_u64(j, "seq_floor");
        e.seq_reserved = opt_u64(j, "seq_reserved", 0);
        break;
      case LogOp::kAddSstable:
        e.added.push_back(sst_from_json(field(j, "sstable"), InlineRule::kAllowed));
        e.last_seq = get_u64(j, "last_seq");
        e.seq_reserved = opt_u64(j, "seq_reserved", 0);
        e.prev_data_seq = opt_u64(j, "prev_data_seq", 0);
        e.chained = opt_bool(j, "chained", false);
        break;
      case LogOp::kCompaction:
        for (const auto& s : get_array(j, "outputs")) e.added.push_back(sst_from_json(s));
        e.run_id = get_str(j, "run_id");
        [[fallthrough]];
      case LogOp::kRemoveSstables:
        for (const auto& id : get_array(j, "inputs")) {
          if (!id.is_string()) fail("input id is not a string");
          e.inputs.push_back(id.get<std::string>());
        }
        break;
      case LogOp::kCheckpoint:
        e.snapshot_pos = get_u64(j, "snapshot");
        break;
      case LogOp::kMaterialize:
        e.inputs = get_str_array(j, "inputs");
        e.added.push_back(sst_from_json(field(j, "sstable")));
        break;
    }
    return e;
  });
}

std::string encode_snapshot(const ManifestState& s) {
  json l0 = json::array();
  for (const auto& m : s.l0) l0.push_back(sst_to_json(m));
  json runs = json::array();
  for (const auto& r : s.runs) {
    json ssts = json::array();
    for (const auto& m : r.ssts) ssts.push_back(sst_to_json(m));
    runs.push_back({{"id", r.id}, {"ssts", std::move(ssts)}});
  }
  json claims = json::array();
  for (const auto& c : s.writer_claims) claims.push_back({{"seq", c.pos}, {"epoch", c.epoch}});
  json j = {{"format", s.inline_ssts.empty() ? 1 : kManifestFormatInline},
            {"next_seq", s.next_pos},
            {"log_seq_start", s.next_pos},
            {"fences", fences_to_json(s.fences)},
            {"l0", std::move(l0)},
            {"runs", std::move(runs)},
            {"last_seq", s.last_seq},
            {"seq_reserved", s.seq_reserved},
            {"entries_applied", s.entries_applied},
            {"entries_skipped", s.entries_skipped},
            {"data_seq", s.data_seq},
            {"writer_claims", std::move(claims)},
            {"writer_claims_trimmed", s.writer_claims_trimmed}};
  if (!s.inline_ssts.empty()) {
    json inl = json::array();
    for (const auto& m : s.inline_ssts) inl.push_back(sst_to_json(m));
    j["inline"] = std::move(inl);
  }
  return j.dump();
}

Result<ManifestState> decode_snapshot(std::string_view bytes, std::string_view what,
                                      uint64_t max_inline_bytes) {
  uint64_t over = 0;  // > 0: the declared inline bytes, above the limit
  auto r = decode_with<ManifestState>(bytes, what, [&](const json& j) {
    ManifestState s;
    s.next_pos = get_u64(j, "next_seq");
    if (s.next_pos == 0) fail("next_seq is 0");
    s.log_seq_start = s.next_pos;
    s.fences = fences_from_json(field(j, "fences"));
    for (const auto& m : get_array(j, "l0")) s.l0.push_back(sst_from_json(m));
    for (const auto& r : get_array(j, "runs")) {
      SortedRun run;
      run.id = get_str(r, "id");
      for (const auto& m : get_array(r, "ssts")) run.ssts.push_back(sst_from_json(m));
      s.runs.push_back(std::move(run));
    }
    if (j.contains("inline") && max_inline_bytes > 0) {
      // The declared sizes, before any data is decoded (a wrong size is
      // Corruption when the data is checked below).
      uint64_t total = 0;
      for (const auto& m : get_array(j, "inline")) {
        const uint64_t n = get_u64(m, "size");
        total = n > UINT64_MAX - total ? UINT64_MAX : total + n;
      }
      if (total > max_inline_bytes) {
        over = total;
        return s;
      }
    }
    if (j.contains("inline")) {
      for (const auto& m : get_array(j, "inline")) {
        s.inline_ssts.push_back(sst_from_json(m, InlineRule::kRequired));
      }
    }
    s.last_seq = get_u64(j, "last_seq");
    s.seq_reserved = opt_u64(j, "seq_reserved", 0);
    s.entries_applied = opt_u64(j, "entries_applied", 0);
    s.entries_skipped = opt_u64(j, "entries_skipped", 0);
    s.data_seq = opt_u64(j, "data_seq", 0);
    if (j.contains("writer_claims")) {
      uint64_t prev = 0;
      for (const auto& c : get_array(j, "writer_claims")) {
        WriterClaim wc{get_u64(c, "seq"), get_u64(c, "epoch")};
        if (wc.pos <= prev || wc.pos >= s.next_pos) fail("writer_claims out of order");
        prev = wc.pos;
        s.writer_claims.push_back(wc);
      }
      s.writer_claims_trimmed = opt_bool(j, "writer_claims_trimmed", false);
    } else {
      // An older snapshot: the claims before it are unknown.
      s.writer_claims_trimmed = true;
    }
    return s;
  });
  if (r.ok() && over > 0) {
    return Status::Backpressure(std::string(what) + " holds " + std::to_string(over) +
                                " bytes of inline SSTs, above ReaderOptions::max_inline_bytes (" +
                                std::to_string(max_inline_bytes) + ")");
  }
  return r;
}

std::string encode_current(const CurrentPointer& c) {
  json j = {{"format", c.format},
            {"snapshot", c.snapshot_pos == 0 ? json(nullptr) : json(snapshot_key(c.snapshot_pos))},
            {"snapshot_seq", c.snapshot_pos},
            {"log_seq_start", c.log_seq_start},
            {"next_seq", c.next_seq_hint},
            {"fences", fences_to_json(c.fences)},
            {"last_seq", c.last_seq},
            {"updated_at", c.updated_ms}};
  if (c.max_committed_lsn) j["max_committed_lsn"] = *c.max_committed_lsn;
  if (c.low_watermark_lsn) j["low_watermark_lsn"] = *c.low_watermark_lsn;
  return j.dump(2);
}

Result<CurrentPointer> decode_current(std::string_view bytes, std::string_view what) {
  return decode_with<CurrentPointer>(bytes, what, [](const json& j) {
    CurrentPointer c;
    c.format = static_cast<int>(opt_u64(j, "format", 1));
    c.snapshot_pos = opt_u64(j, "snapshot_seq", 0);
    c.log_seq_start = get_u64(j, "log_seq_start");
    if (c.log_seq_start == 0) fail("log_seq_start is 0");
    if (c.snapshot_pos != 0 && c.snapshot_pos != c.log_seq_start) {
      fail("snapshot_seq and log_seq_start disagree");
    }
    c.next_seq_hint = opt_u64(j, "next_seq", c.log_seq_start);
    c.fences = fences_from_json(field(j, "fences"));
    c.last_seq = opt_u64(j, "last_seq", 0);
    c.updated_ms = j.contains("updated_at") ? get_i64(j, "updated_at") : 0;
    if (j.contains("max_committed_lsn")) c.max_committed_lsn = get_u64(j, "max_committed_lsn");
    if (j.contains("low_watermark_lsn")) c.low_watermark_lsn = get_u64(j, "low_watermark_lsn");
    return c;
  });
}

std::string encode_sst_meta(const SstMeta& m) { return sst_to_json(m).dump(); }

}  // namespace isle
