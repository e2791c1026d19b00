// Double-hashing bloom filter; see bloom.h for the bit layout.
#include "format/bloom.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace isle {

int bloom_probes_for(int bits_per_key) {
  const int k = static_cast<int>(std::lround(bits_per_key * 0.69314718056));
  return std::clamp(k, 1, kMaxBloomProbes);
}

uint64_t bloom_hash(std::string_view user_key) { return xxh3_64(user_key); }

namespace {

// The bit probe i of hash h selects in an m-bit array (double hashing).
inline uint64_t probe_bit(uint64_t h, int i, uint64_t m) {
  const uint64_t h1 = h & 0xffffffffu;
  const uint64_t h2 = h >> 32;
  return (h1 + static_cast<uint64_t>(i) * h2) % m;
}

}  // namespace

std::string BloomBuilder::finish() const {
  const int k = bloom_probes_for(bits_per_key_);
  uint64_t m = static_cast<uint64_t>(hashes_.size()) * static_cast<uint64_t>(std::max(bits_per_key_, 1));
  m = std::max<uint64_t>(m, 64);
  m = (m + 7) / 8 * 8;
  std::string out(m / 8, '\0');
  for (uint64_t h : hashes_) {
    for (int i = 0; i < k; i++) {
      const uint64_t bit = probe_bit(h, i, m);
      out[bit / 8] = static_cast<char>(out[bit / 8] | (1u << (bit % 8)));
    }
  }
  out.push_back(static_cast<char>(k));
  return out;
}

Result<BloomFilter> BloomFilter::parse(std::string_view contents) {
  if (contents.size() < 9) {
    return Status::Corruption("filter block: " + std::to_string(contents.size()) +
                              " bytes is too short");
  }
  const int k = static_cast<unsigned char>(contents.back());
  if (k < 1 || k > kMaxBloomProbes) {
    return Status::Corruption("filter block: bad probe count " + std::to_string(k));
  }
  BloomFilter f;
  f.bits_ = contents.substr(0, contents.size() - 1);
  f.k_ = k;
  return f;
}

bool BloomFilter::may_contain_hash(uint64_t h) const {
  if (bits_.empty()) return true;  // no filter: everything may be present
  const uint64_t m = bits_.size() * 8;
  for (int i = 0; i < k_; i++) {
    const uint64_t bit = probe_bit(h, i, m);
    if (((static_cast<unsigned char>(bits_[bit / 8]) >> (bit % 8)) & 1) == 0) return false;
  }
  return true;
}

}  // namespace isle
