// Bloom filter over the user keys of one SST.
//
//   filter block contents = bit array (m/8 bytes) || k (1 byte)
//
// For a key, h = xxh3_64(user_key); h1 = low 32 bits, h2 = high 32 bits;
// probe i (0 <= i < k) sets/tests bit (h1 + i * h2) mod m, computed in 64-bit
// arithmetic, where bit b is (byte[b / 8] >> (b % 8)) & 1.
// m = max(64, keys * bits_per_key) rounded up to a multiple of 8;
// k = round(bits_per_key * ln 2) clamped to 1..30.
//
// The builder keeps one 64-bit hash per distinct user key (8 bytes per key,
// the only per-key memory an SstBuilder holds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"

namespace isle {

constexpr int kMaxBloomProbes = 30;

// Number of probes for a bits-per-key setting (>= 1).
int bloom_probes_for(int bits_per_key);

uint64_t bloom_hash(std::string_view user_key);

class BloomBuilder {
 public:
  explicit BloomBuilder(int bits_per_key) : bits_per_key_(bits_per_key) {}

  void add_hash(uint64_t h) { hashes_.push_back(h); }
  void add_key(std::string_view user_key) { add_hash(bloom_hash(user_key)); }
  size_t num_keys() const { return hashes_.size(); }

  // The filter block contents for every key added so far.
  std::string finish() const;

 private:
  int bits_per_key_;
  std::vector<uint64_t> hashes_;
};

// A read-only view over filter block contents (which must outlive it).
class BloomFilter {
 public:
  BloomFilter() = default;
  // Validates the layout: at least 8 bytes of bits, k in 1..30.
  static Result<BloomFilter> parse(std::string_view contents);

  // False only when the key was certainly not added.
  bool may_contain(std::string_view user_key) const { return may_contain_hash(bloom_hash(user_key)); }
  bool may_contain_hash(uint64_t h) const;

  int probes() const { return k_; }
  uint64_t bits() const { return bits_.size() * 8; }

 private:
  std::string_view bits_;
  int k_ = 0;
};

}  // namespace isle
