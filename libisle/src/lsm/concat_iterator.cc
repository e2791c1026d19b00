// ConcatIterator: (index_, cur_) is the open file and its iterator; cur_ is
// null before the first seek, after an open error, and after a seek past
// the last file. skip_forward() moves over exhausted files, opening the
// next one only then, so the walk opens files strictly in order and never
// one it does not reach.
#include "lsm/concat_iterator.h"

#include <algorithm>
#include <utility>

#include "format/internal_key.h"

namespace isle {

namespace {

constexpr size_t kNoFile = static_cast<size_t>(-1);

// Checks the run invariant (see the header); OK or InvalidArgument.
Status check_run(const std::vector<RunFile>& files) {
  for (size_t i = 0; i < files.size(); i++) {
    if (files[i].max_user_key < files[i].min_user_key) {
      return Status::InvalidArgument("concat iterator: run file " + std::to_string(i) +
                                     " has min_user_key > max_user_key");
    }
    if (i > 0 && !(files[i - 1].max_user_key < files[i].min_user_key)) {
      return Status::InvalidArgument("concat iterator: run files " + std::to_string(i - 1) +
                                     " and " + std::to_string(i) +
                                     " are not disjoint and ascending");
    }
  }
  return Status::OK();
}

class ConcatIterator final : public InternalIterator {
 public:
  ConcatIterator(std::vector<RunFile> files, RunFileOpener open)
      : files_(std::move(files)), open_(std::move(open)), run_status_(check_run(files_)) {}

  bool valid() const override { return status_.ok() && cur_ != nullptr && cur_->valid(); }

  void seek_to_first() override {
    if (!reset()) return;
    if (files_.empty()) {
      close();
      return;
    }
    if (!open_file(0)) return;
    cur_->seek_to_first();
    skip_forward();
  }

  void seek(std::string_view internal_key) override {
    if (!reset()) return;
    if (internal_key.size() < kInternalKeyTrailer) {
      close();
      status_ = Status::InvalidArgument("concat iterator: seek target is not an internal key");
      return;
    }
    const std::string_view uk = extract_user_key(internal_key);
    // The first file whose range ends at or after the target's user key is
    // the only one that can hold entries >= the target; files before it
    // hold only smaller user keys.
    auto it = std::lower_bound(files_.begin(), files_.end(), uk,
                               [](const RunFile& f, std::string_view k) { return f.max_user_key < k; });
    if (it == files_.end()) {
      close();
      return;
    }
    if (!open_file(static_cast<size_t>(it - files_.begin()))) return;
    cur_->seek(internal_key);
    skip_forward();
  }

  void next() override {
    if (!valid()) return;
    cur_->next();
    skip_forward();
  }

  std::string_view key() const override { return cur_->key(); }
  std::string_view value() const override { return cur_->value(); }
  Status status() const override { return status_; }

 private:
  // Clears the status for a new seek; false (with status_ set) when the
  // run itself is malformed.
  bool reset() {
    status_ = run_status_;
    if (!status_.ok()) close();
    return status_.ok();
  }

  void close() {
    cur_.reset();
    index_ = kNoFile;
  }

  // Makes file i current, reusing its iterator when it is already open.
  bool open_file(size_t i) {
    if (cur_ != nullptr && index_ == i) return true;
    close();
    auto r = open_(i);
    if (!r.ok()) {
      status_ = r.status().with_context("run file " + std::to_string(i));
      return false;
    }
    if (*r == nullptr) {
      status_ = Status::InvalidArgument("concat iterator: opener returned no iterator for run file " +
                                        std::to_string(i));
      return false;
    }
    cur_ = std::move(*r);
    index_ = i;
    return true;
  }

  // From the current position of cur_: moves to the next file while the
  // current one is exhausted, then checks the entry lies in its file.
  void skip_forward() {
    while (!cur_->valid()) {
      Status s = cur_->status();
      if (!s.ok()) {
        status_ = s.with_context("run file " + std::to_string(index_));
        return;
      }
      if (index_ + 1 >= files_.size()) return;  // the end of the run
      if (!open_file(index_ + 1)) return;
      cur_->seek_to_first();
    }
    const std::string_view k = cur_->key();
    const RunFile& f = files_[index_];
    if (k.size() < kInternalKeyTrailer || extract_user_key(k) < f.min_user_key ||
        extract_user_key(k) > f.max_user_key) {
      status_ = Status::Corruption("concat iterator: run file " + std::to_string(index_) +
                                   " holds a key outside its declared user-key range");
    }
  }

  std::vector<RunFile> files_;
  RunFileOpener open_;
  Status run_status_;  // check_run(files_), fixed at construction
  size_t index_ = kNoFile;
  std::unique_ptr<InternalIterator> cur_;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_concat_iterator(std::vector<RunFile> files,
                                                      RunFileOpener open) {
  if (files.empty()) return new_empty_iterator();
  if (!open) return new_empty_iterator(Status::InvalidArgument("concat iterator: no opener"));
  return std::make_unique<ConcatIterator>(std::move(files), std::move(open));
}

}  // namespace isle
