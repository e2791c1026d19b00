// Small, fast, seedable random numbers for tests, jitter and fault
// injection. Not for anything secret: use OpenSSL's RAND_bytes for that.
#pragma once

#include <cstdint>
#include <string>

namespace isle {

// SplitMix64-seeded xoshiro256**: reproducible from a 64-bit seed.
class Random {
 public:
  explicit Random(uint64_t seed);

  uint64_t next();
  // Uniform in [0, n); n must be > 0.
  uint64_t uniform(uint64_t n);
  // Uniform in [0, 1).
  double unit();
  // True with probability p.
  bool chance(double p) { return unit() < p; }
  // `n` bytes, uniformly random.
  std::string bytes(size_t n);
  // A skewed size in [0, max]: small values are more likely (log-uniform).
  uint64_t skewed(uint64_t max);

 private:
  uint64_t s_[4];
};

// 16 random bytes from the OS, hex-encoded (32 chars): for ETags, commit
// ids, owner ids and temp file names.
std::string random_token();

}  // namespace isle
