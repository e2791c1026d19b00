// WriteBatch: several puts and deletes applied together. With
// WriteOptions::atomic (the default) all of a batch becomes visible at once
// or none of it does; a later operation on the same key wins.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace isle {

class WriteBatch {
 public:
  enum class Op : uint8_t { kPut, kDelete };
  struct Entry {
    Op op = Op::kPut;
    std::string key;
    std::string value;
    std::chrono::milliseconds ttl{0};  // 0 = no expiry
  };

  void put(std::string_view key, std::string_view value) {
    entries_.push_back({Op::kPut, std::string(key), std::string(value), {}});
  }
  void put_with_ttl(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) {
    entries_.push_back({Op::kPut, std::string(key), std::string(value), ttl});
  }
  void del(std::string_view key) { entries_.push_back({Op::kDelete, std::string(key), {}, {}}); }
  void del_with_ttl(std::string_view key, std::chrono::milliseconds ttl) {
    entries_.push_back({Op::kDelete, std::string(key), {}, ttl});
  }
  void clear() { entries_.clear(); }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace isle
