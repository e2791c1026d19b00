// Adapters from Memtable::Iterator and SstIterator to InternalIterator, and
// the empty iterator. Each adapter owns a shared_ptr to its source, declared
// before the wrapped iterator so the source outlives it.
#include "lsm/internal_iterator.h"

#include <utility>

#include "format/internal_key.h"
#include "format/sst_reader.h"
#include "lsm/memtable.h"

namespace isle {

namespace {

Status short_target_error(std::string_view who) {
  return Status::InvalidArgument(std::string(who) + ": seek target is not an internal key");
}

class MemtableInternalIterator final : public InternalIterator {
 public:
  explicit MemtableInternalIterator(std::shared_ptr<const Memtable> mem)
      : mem_(std::move(mem)), it_(mem_.get()) {}

  bool valid() const override { return status_.ok() && it_.valid(); }
  void seek_to_first() override {
    status_ = Status::OK();
    it_.seek_to_first();
  }
  void seek(std::string_view internal_key) override {
    // Memtable::Iterator would read a short target as a user key; the
    // InternalIterator contract rejects it like the SST iterator does.
    if (internal_key.size() < kInternalKeyTrailer) {
      status_ = short_target_error("memtable iterator");
      return;
    }
    status_ = Status::OK();
    it_.seek(internal_key);
  }
  void next() override { it_.next(); }
  std::string_view key() const override { return it_.key(); }
  std::string_view value() const override { return it_.stored_value(); }
  Status status() const override { return status_; }

 private:
  std::shared_ptr<const Memtable> mem_;  // before it_: outlives it
  Memtable::Iterator it_;
  Status status_;  // only a bad seek target; the memtable itself cannot fail
};

class SstInternalIterator final : public InternalIterator {
 public:
  // The SstIterator lives inline (one allocation per SST per iterator,
  // not two).
  explicit SstInternalIterator(std::shared_ptr<const SstReader> sst)
      : sst_(std::move(sst)), it_(sst_.get()) {}

  bool valid() const override { return it_.valid(); }
  void seek_to_first() override { it_.seek_to_first(); }
  void seek(std::string_view internal_key) override { it_.seek(internal_key); }
  void next() override { it_.next(); }
  std::string_view key() const override { return it_.key(); }
  std::string_view value() const override { return it_.value(); }
  Status status() const override { return it_.status(); }

 private:
  std::shared_ptr<const SstReader> sst_;  // before it_: outlives it
  SstIterator it_;
};

class EmptyIterator final : public InternalIterator {
 public:
  explicit EmptyIterator(Status s) : status_(std::move(s)) {}

  bool valid() const override { return false; }
  void seek_to_first() override {}
  void seek(std::string_view) override {}
  void next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Status status() const override { return status_; }

 private:
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_memtable_iterator(std::shared_ptr<const Memtable> mem) {
  if (mem == nullptr) return new_empty_iterator(Status::InvalidArgument("memtable iterator: null memtable"));
  return std::make_unique<MemtableInternalIterator>(std::move(mem));
}

std::unique_ptr<InternalIterator> new_sst_iterator(std::shared_ptr<const SstReader> sst) {
  if (sst == nullptr) return new_empty_iterator(Status::InvalidArgument("sst iterator: null reader"));
  return std::make_unique<SstInternalIterator>(std::move(sst));
}

std::unique_ptr<InternalIterator> new_empty_iterator(Status s) {
  return std::make_unique<EmptyIterator>(std::move(s));
}

}  // namespace isle
