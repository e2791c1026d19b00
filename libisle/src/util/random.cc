// Random: xoshiro256** seeded through SplitMix64; random_token via OpenSSL.
#include "util/random.h"

#include <openssl/rand.h>

#include <cmath>
#include <stdexcept>

#include "util/hash.h"

namespace isle {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Random::Random(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Random::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Random::uniform(uint64_t n) {
  // Lemire's multiply-shift; the tiny bias is irrelevant for our uses.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
}

double Random::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::string Random::bytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i++) out[i] = static_cast<char>(next() & 0xff);
  return out;
}

uint64_t Random::skewed(uint64_t max) {
  if (max == 0) return 0;
  int bits = static_cast<int>(uniform(65 - __builtin_clzll(max)));
  uint64_t cap = bits >= 64 ? max : std::min<uint64_t>(max, (uint64_t{1} << bits));
  return uniform(cap + 1);
}

std::string random_token() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
  return to_hex(std::string_view(reinterpret_cast<char*>(buf), sizeof buf));
}

}  // namespace isle
