// RandomAccessSource: how an SstReader fetches bytes of one immutable SST.
//
// Two reads are enough for everything the reader does: the tail of the
// file (which also reveals the total size, so no HEAD request is needed)
// and exact byte ranges. Implementations:
//   MemorySource       the whole SST in memory (tests, small files, fuzzing)
//   ObjectStoreSource  ranged GETs on one object of an ObjectStore; counts
//                      requests so tests can check the read economy.
// All methods may be called from several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

struct TailRead {
  std::string bytes;        // the last min(n, total_size) bytes
  uint64_t total_size = 0;  // size of the whole SST
};

class RandomAccessSource {
 public:
  virtual ~RandomAccessSource() = default;

  // Exactly `len` bytes at `offset`. Reading past the end is Corruption
  // (the SST's own handles pointed there, or the object changed size).
  virtual Result<std::string> read(uint64_t offset, uint64_t len) = 0;
  virtual Result<TailRead> read_tail(uint64_t n) = 0;

  // The whole SST when it is already in memory (lets the reader verify a
  // whole-file sha256 without extra reads); nullopt otherwise.
  virtual std::optional<std::string_view> whole() const { return std::nullopt; }

  // For error messages, e.g. "mem" or the object key.
  virtual std::string name() const = 0;
};

class MemorySource : public RandomAccessSource {
 public:
  explicit MemorySource(std::string data, std::string name = "mem")
      : data_(std::make_shared<const std::string>(std::move(data))), name_(std::move(name)) {}
  explicit MemorySource(std::shared_ptr<const std::string> data, std::string name = "mem")
      : data_(std::move(data)), name_(std::move(name)) {}

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  Result<TailRead> read_tail(uint64_t n) override;
  std::optional<std::string_view> whole() const override { return std::string_view(*data_); }
  std::string name() const override { return name_; }

  uint64_t reads() const { return reads_.load(); }

 private:
  std::shared_ptr<const std::string> data_;
  std::string name_;
  std::atomic<uint64_t> reads_{0};
};

class ObjectStoreSource : public RandomAccessSource {
 public:
  ObjectStoreSource(ObjectStorePtr store, std::string key)
      : store_(std::move(store)), key_(std::move(key)) {}

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  Result<TailRead> read_tail(uint64_t n) override;
  std::string name() const override { return key_; }

  // GET requests issued so far (successful or not).
  uint64_t requests() const { return requests_.load(); }
  uint64_t bytes_read() const { return bytes_.load(); }

 private:
  ObjectStorePtr store_;
  std::string key_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace isle
