// Test helpers for SST suites (header-only, used by *_test.cc and the fuzz
// seed program): a sorted model of entries, random entry sets, building an
// SST into memory, and reading everything back.
#pragma once

#include <cstdio>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "format/internal_key.h"
#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "util/random.h"

namespace isle::sst_testing {

struct ModelEntry {
  std::string ikey;   // internal key
  std::string value;  // stored value (expiry prefix included)
};

inline void sort_model(std::vector<ModelEntry>* m) {
  std::sort(m->begin(), m->end(), [](const ModelEntry& a, const ModelEntry& b) {
    return compare_internal_keys(a.ikey, b.ikey) < 0;
  });
}

// A user key from a small alphabet with shared prefixes (so prefix
// compression has work to do), 0..max_len bytes; sometimes binary.
inline std::string random_user_key(Random& rnd, size_t max_len) {
  const size_t len = rnd.skewed(max_len);
  if (rnd.chance(0.2)) return rnd.bytes(len);
  std::string k;
  for (size_t i = 0; i < len; i++) k.push_back("abcd/0"[rnd.uniform(6)]);
  return k;
}

struct RandomSetOptions {
  size_t max_user_keys = 200;
  size_t max_key_len = 100;
  size_t max_versions = 4;
  size_t max_value_len = 300;
  double big_value_chance = 0.02;  // values up to 3 * big_value_len
  size_t big_value_len = 4096;
};

// Random entries (sorted), with unique sequences, random kinds and expiries.
// `user_keys` receives the distinct user keys used.
inline std::vector<ModelEntry> random_entries(Random& rnd, const RandomSetOptions& o,
                                              std::set<std::string>* user_keys) {
  const size_t n = rnd.uniform(o.max_user_keys + 1);
  for (size_t i = 0; i < n; i++) user_keys->insert(random_user_key(rnd, o.max_key_len));
  if (n > 0 && rnd.chance(0.3)) user_keys->insert("");  // the empty user key is valid
  std::set<uint64_t> used_seqs;
  std::vector<ModelEntry> out;
  for (const std::string& uk : *user_keys) {
    const size_t versions = 1 + rnd.uniform(o.max_versions);
    for (size_t v = 0; v < versions; v++) {
      uint64_t seq;
      do {
        seq = rnd.chance(0.05) ? kMaxSequence - rnd.uniform(3) : 1 + rnd.uniform(100000);
      } while (!used_seqs.insert(seq).second);
      const auto kind = static_cast<ValueKind>(rnd.uniform(kMaxValueKind + 1));
      const bool has_expiry = rnd.chance(0.3);
      size_t len = rnd.skewed(o.max_value_len);
      if (rnd.chance(o.big_value_chance)) len = o.big_value_len + rnd.uniform(2 * o.big_value_len);
      if (kind == ValueKind::kDelete && rnd.chance(0.8)) len = 0;
      ModelEntry e;
      append_internal_key(&e.ikey, uk, seq, kind, has_expiry);
      encode_entry_value(&e.value, rnd.chance(0.5) ? rnd.bytes(len) : std::string(len, 'v'),
                         has_expiry, 1 + rnd.uniform(uint64_t{1} << 42));
      out.push_back(std::move(e));
    }
  }
  sort_model(&out);
  return out;
}

// The model's answer to get(user_key, snapshot).
inline std::optional<SstEntry> model_get(const std::vector<ModelEntry>& m,
                                         std::string_view user_key, uint64_t snapshot) {
  const std::string target = seek_key(user_key, snapshot);
  auto it = std::lower_bound(m.begin(), m.end(), target, [](const ModelEntry& e, const std::string& t) {
    return compare_internal_keys(e.ikey, t) < 0;
  });
  if (it == m.end()) return std::nullopt;
  ParsedInternalKey p;
  if (!parse_internal_key(it->ikey, &p) || p.user_key != user_key) return std::nullopt;
  SstEntry e;
  e.sequence = p.sequence;
  e.kind = p.kind;
  e.has_expiry = p.has_expiry;
  std::string_view payload;
  decode_entry_value(p.has_expiry, it->value, &payload, &e.expires_at_ms);
  e.value = std::string(payload);
  return e;
}

// `n` puts of the keys "<prefix>000000", "<prefix>000001", ... (sequences
// first_seq, first_seq+1, ...) with values value_of(i): a plain, sorted
// model for tests that need "an SST with n numbered keys".
inline std::string numbered_key(const std::string& prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06d", i);
  return prefix + buf;
}
template <typename ValueOf>
std::vector<ModelEntry> numbered_entries(int n, const std::string& prefix, uint64_t first_seq,
                                         ValueOf value_of) {
  std::vector<ModelEntry> model;
  for (int i = 0; i < n; i++) {
    ModelEntry e;
    append_internal_key(&e.ikey, numbered_key(prefix, i), first_seq + static_cast<uint64_t>(i),
                        ValueKind::kPut, false);
    e.value = value_of(i);
    model.push_back(std::move(e));
  }
  return model;
}

// Builds an SST in memory; the Result carries the file bytes.
inline Result<std::string> build_sst(const std::vector<ModelEntry>& entries,
                                     const SstBuilderOptions& options, SstInfo* info = nullptr) {
  StringSink sink;
  SstBuilder b(options, &sink);
  for (const auto& e : entries) ISLE_RETURN_IF_ERROR(b.add(e.ikey, e.value));
  ISLE_ASSIGN_OR_RETURN(SstInfo i, b.finish());
  if (info != nullptr) *info = i;
  return sink.release();
}

}  // namespace isle::sst_testing
