// libFuzzer target: the SST reader on arbitrary bytes.
//
// Each input is opened from a MemorySource twice: once with checksums
// verified (the production path) and once without, so mutated bytes also
// reach the block, index, filter, properties and codec parsers behind the
// checksums. Whatever the input, the reader must return statuses, never
// crash, read out of bounds, or allocate without bound (ASan/UBSan watch).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/internal_key.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"

namespace {

void exercise(const std::string& bytes, bool verify, uint64_t tail) {
  isle::SstReaderOptions o;
  o.verify_checksums = verify;
  o.tail_read_size = tail;
  auto r = isle::SstReader::open(std::make_shared<isle::MemorySource>(bytes), o);
  if (!r.ok()) return;
  isle::SstReader& reader = **r;

  // Full scan (bounded), remembering a few user keys to look up.
  std::vector<std::string> keys;
  auto it = reader.new_iterator();
  int n = 0;
  for (it->seek_to_first(); it->valid() && n < 100000; it->next(), n++) {
    if (keys.size() < 8 && n % 3 == 0) keys.emplace_back(isle::extract_user_key(it->key()));
  }
  keys.push_back("");
  keys.push_back(reader.properties().min_user_key);
  keys.push_back(reader.properties().max_user_key);
  for (const std::string& k : keys) {
    (void)reader.may_contain(k);
    (void)reader.get(k);
    (void)reader.get(k, 1);
    it->seek(isle::seek_key(k));
    if (it->valid()) it->next();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  exercise(bytes, true, 64 * 1024);
  exercise(bytes, false, 64 * 1024);
  exercise(bytes, false, 100);  // forces the second meta-region read
  return 0;
}
