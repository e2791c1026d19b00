// MergingIterator: a binary min-heap of the indices of the valid children,
// ordered by (current key, child index). The heap holds exactly the valid
// children while status_ is OK, and is empty otherwise.
#include "lsm/merging_iterator.h"

#include <algorithm>
#include <string>
#include <utility>

#include "format/internal_key.h"

namespace isle {

namespace {

class MergingIterator final : public InternalIterator {
 public:
  explicit MergingIterator(std::vector<std::unique_ptr<InternalIterator>> children)
      : children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool valid() const override { return status_.ok() && !heap_.empty(); }

  void seek_to_first() override {
    for (auto& c : children_) c->seek_to_first();
    rebuild();
  }

  void seek(std::string_view internal_key) override {
    if (internal_key.size() < kInternalKeyTrailer) {
      heap_.clear();
      status_ = Status::InvalidArgument("merging iterator: seek target is not an internal key");
      return;
    }
    for (auto& c : children_) c->seek(internal_key);
    rebuild();
  }

  void next() override {
    if (!valid()) return;
    std::pop_heap(heap_.begin(), heap_.end(), heap_cmp());
    const size_t i = heap_.back();
    heap_.pop_back();
    children_[i]->next();
    if (admit(i)) {
      heap_.push_back(i);
      std::push_heap(heap_.begin(), heap_.end(), heap_cmp());
    }
  }

  std::string_view key() const override { return children_[heap_.front()]->key(); }
  std::string_view value() const override { return children_[heap_.front()]->value(); }
  Status status() const override { return status_; }

 private:
  // std heap algorithms build a max-heap: "a before b" means a is larger,
  // so the smallest (key, index) ends up at the front.
  struct HeapCmp {
    const MergingIterator* self;
    bool operator()(size_t a, size_t b) const {
      const int c = compare_internal_keys(self->children_[a]->key(), self->children_[b]->key());
      return c != 0 ? c > 0 : a > b;
    }
  };
  HeapCmp heap_cmp() const { return HeapCmp{this}; }

  // After child i moved: true when it is valid and well-formed (belongs in
  // the heap). On an error, records it in status_ and empties the heap.
  bool admit(size_t i) {
    InternalIterator& c = *children_[i];
    if (!c.valid()) {
      Status s = c.status();
      if (!s.ok()) fail(std::move(s));
      return false;
    }
    if (c.key().size() < kInternalKeyTrailer) {
      fail(Status::Corruption("merging iterator: child " + std::to_string(i) +
                              " returned a key shorter than the internal-key trailer"));
      return false;
    }
    return true;
  }

  void fail(Status s) {
    status_ = std::move(s);
    heap_.clear();
  }

  void rebuild() {
    status_ = Status::OK();
    heap_.clear();
    for (size_t i = 0; i < children_.size(); i++) {
      if (admit(i)) {
        heap_.push_back(i);
      } else if (!status_.ok()) {
        return;
      }
    }
    std::make_heap(heap_.begin(), heap_.end(), heap_cmp());
  }

  std::vector<std::unique_ptr<InternalIterator>> children_;
  std::vector<size_t> heap_;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children) {
  std::erase(children, nullptr);
  if (children.empty()) return new_empty_iterator();
  return std::make_unique<MergingIterator>(std::move(children));
}

}  // namespace isle
