// Memtable skiplist; see memtable.h for the concurrency contract.
//
// Node layout, one arena allocation per node:
//
//   Node header (height) | atomic<Node*> next[height] | entry
//   entry = varint32(ikey_len) ikey varint32(stored_len) stored_value
//
// where stored_value = encode_entry_value(payload, has_expiry, expiry).
// The head node has kMaxHeight levels and an empty entry; it is never
// compared against.
//
// Publication: a new node's own next pointers are set with relaxed stores
// (nobody can see the node yet); it becomes reachable through the release
// store into its predecessor's next pointer, level 0 first. A reader that
// acquires that pointer therefore sees the complete node. max_height_ may be
// observed before the upper levels of the head are linked; a reader then
// just sees nullptr there and drops a level.
#include "lsm/memtable.h"

#include <cassert>
#include <cstring>
#include <new>

#include "util/coding.h"

namespace isle {

namespace {

constexpr uint64_t kMaxEntryField = 0xffffffffu;

char* encode_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Decodes a varint32 this file wrote itself (so it is well formed).
const char* decode_varint32(const char* p, uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0;; shift += 7) {
    uint32_t byte = static_cast<unsigned char>(*p++);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  *v = result;
  return p;
}

}  // namespace

struct alignas(std::atomic<void*>) Memtable::Node {
  uint32_t height = 0;

  std::atomic<Node*>* slots() {
    return std::launder(reinterpret_cast<std::atomic<Node*>*>(reinterpret_cast<char*>(this) +
                                                              sizeof(Node)));
  }
  const std::atomic<Node*>* slots() const { return const_cast<Node*>(this)->slots(); }
  const char* entry() const {
    return reinterpret_cast<const char*>(this) + sizeof(Node) +
           height * sizeof(std::atomic<Node*>);
  }

  Node* next(int level) const { return slots()[level].load(std::memory_order_acquire); }
  void set_next(int level, Node* x) { slots()[level].store(x, std::memory_order_release); }
  Node* next_relaxed(int level) const { return slots()[level].load(std::memory_order_relaxed); }
  void set_next_relaxed(int level, Node* x) {
    slots()[level].store(x, std::memory_order_relaxed);
  }

  std::string_view key() const {
    uint32_t n;
    const char* p = decode_varint32(entry(), &n);
    return {p, n};
  }
  std::string_view stored_value() const {
    uint32_t n;
    const char* p = decode_varint32(entry(), &n);
    p += n;
    p = decode_varint32(p, &n);
    return {p, n};
  }
};

Memtable::Memtable(size_t arena_block_size) : arena_(arena_block_size), rnd_(0x15e1db) {
  head_ = new_node(kMaxHeight, {}, {}, false, 0);
}

// Nodes are trivially destructible apart from their atomics, which need no
// cleanup; the arena frees the memory.
Memtable::~Memtable() = default;

uint64_t Memtable::min_seq() const {
  uint64_t v = min_seq_.load(std::memory_order_relaxed);
  return v == UINT64_MAX ? 0 : v;
}

int Memtable::random_height() {
  // Each level up with probability 1/4.
  int height = 1;
  while (height < kMaxHeight && rnd_.uniform(4) == 0) height++;
  return height;
}

Memtable::Node* Memtable::new_node(int height, std::string_view ikey, std::string_view payload,
                                   bool has_expiry, uint64_t expires_at_ms) {
  size_t stored_size = payload.size() + (has_expiry ? varint_length(expires_at_ms) : 0);
  size_t entry_size =
      varint_length(ikey.size()) + ikey.size() + varint_length(stored_size) + stored_size;
  size_t bytes = sizeof(Node) + height * sizeof(std::atomic<Node*>) + entry_size;
  char* mem = arena_.allocate_aligned(bytes, alignof(Node));
  Node* node = new (mem) Node;
  node->height = static_cast<uint32_t>(height);
  std::atomic<Node*>* slots = node->slots();
  for (int i = 0; i < height; i++) new (&slots[i]) std::atomic<Node*>(nullptr);

  char* p = const_cast<char*>(node->entry());
  p = encode_varint(p, ikey.size());
  if (!ikey.empty()) std::memcpy(p, ikey.data(), ikey.size());
  p += ikey.size();
  p = encode_varint(p, stored_size);
  if (has_expiry) p = encode_varint(p, expires_at_ms);
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  assert(p + payload.size() == mem + bytes);
  return node;
}

Memtable::Node* Memtable::find_greater_or_equal(std::string_view ikey, Node** prev) const {
  Node* x = head_;
  int level = max_height() - 1;
  for (;;) {
    Node* next = x->next(level);
    if (next != nullptr && compare_internal_keys(next->key(), ikey) < 0) {
      x = next;  // keep moving right on this level
    } else {
      if (prev != nullptr) prev[level] = x;
      if (level == 0) return next;
      level--;
    }
  }
}

Memtable::Node* Memtable::find_less_than(std::string_view ikey) const {
  Node* x = head_;
  int level = max_height() - 1;
  for (;;) {
    Node* next = x->next(level);
    if (next != nullptr && compare_internal_keys(next->key(), ikey) < 0) {
      x = next;
    } else {
      if (level == 0) return x;
      level--;
    }
  }
}

Memtable::Node* Memtable::find_last() const {
  Node* x = head_;
  int level = max_height() - 1;
  for (;;) {
    Node* next = x->next(level);
    if (next != nullptr) {
      x = next;
    } else {
      if (level == 0) return x;
      level--;
    }
  }
}

namespace {
// True when `node_key` is an entry of `user_key` with sequence `seq`.
bool same_key_and_seq(std::string_view node_key, std::string_view user_key, uint64_t seq) {
  ParsedInternalKey p;
  return parse_internal_key(node_key, &p) && p.sequence == seq && p.user_key == user_key;
}
}  // namespace

Status Memtable::add(uint64_t seq, ValueKind kind, std::string_view user_key,
                     std::string_view value, uint64_t expires_at_ms) {
  if (seq > kMaxSequence) return Status::InvalidArgument("memtable: sequence above 2^56-1");
  if (static_cast<uint8_t>(kind) > kMaxValueKind) {
    return Status::InvalidArgument("memtable: unknown value kind");
  }
  const bool has_expiry = expires_at_ms != 0;
  const uint64_t stored_size = value.size() + (has_expiry ? varint_length(expires_at_ms) : 0);
  if (user_key.size() + kInternalKeyTrailer > kMaxEntryField || stored_size > kMaxEntryField) {
    return Status::InvalidArgument("memtable: key or value too large");
  }

  std::string ikey;
  ikey.reserve(user_key.size() + kInternalKeyTrailer);
  append_internal_key(&ikey, user_key, seq, kind, has_expiry);

  Node* prev[kMaxHeight];
  Node* x = find_greater_or_equal(ikey, prev);
  // Entries with the same user key and sequence differ only in the kind
  // byte, so any duplicate sits right next to the insert position.
  if ((x != nullptr && same_key_and_seq(x->key(), user_key, seq)) ||
      (prev[0] != head_ && same_key_and_seq(prev[0]->key(), user_key, seq))) {
    return Status::InvalidArgument("memtable: duplicate (key, sequence)");
  }

  int height = random_height();
  if (height > max_height()) {
    for (int i = max_height(); i < height; i++) prev[i] = head_;
    max_height_.store(height, std::memory_order_relaxed);
  }
  Node* node = new_node(height, ikey, value, has_expiry, expires_at_ms);
  for (int i = 0; i < height; i++) {
    // The writer is the only one changing links, so relaxed reads of its own
    // earlier stores are fine; the release store publishes the node.
    node->set_next_relaxed(i, prev[i]->next_relaxed(i));
    prev[i]->set_next(i, node);
  }

  entry_count_.fetch_add(1, std::memory_order_relaxed);
  if (seq < min_seq_.load(std::memory_order_relaxed)) {
    min_seq_.store(seq, std::memory_order_relaxed);
  }
  if (seq > max_seq_.load(std::memory_order_relaxed)) {
    max_seq_.store(seq, std::memory_order_relaxed);
  }
  raw_key_bytes_.fetch_add(user_key.size(), std::memory_order_relaxed);
  raw_value_bytes_.fetch_add(value.size(), std::memory_order_relaxed);
  return Status::OK();
}

std::optional<MemtableEntry> Memtable::get(std::string_view user_key,
                                           uint64_t snapshot_seq) const {
  if (snapshot_seq > kMaxSequence) snapshot_seq = kMaxSequence;
  Node* x = find_greater_or_equal(seek_key(user_key, snapshot_seq), nullptr);
  if (x == nullptr) return std::nullopt;
  ParsedInternalKey p;
  if (!parse_internal_key(x->key(), &p) || p.user_key != user_key) return std::nullopt;
  MemtableEntry e;
  e.sequence = p.sequence;
  e.kind = p.kind;
  bool ok = decode_entry_value(p.has_expiry, x->stored_value(), &e.value, &e.expires_at_ms);
  assert(ok);
  (void)ok;
  return e;
}

// ---- Iterator ----

void Memtable::Iterator::load() {
  if (node_ == nullptr) return;
  key_ = node_->key();
  stored_value_ = node_->stored_value();
  bool ok = parse_internal_key(key_, &parsed_) &&
            decode_entry_value(parsed_.has_expiry, stored_value_, &value_, &expires_at_ms_);
  assert(ok);
  (void)ok;
}

void Memtable::Iterator::seek_to_first() {
  node_ = mem_->head_->next(0);
  load();
}

void Memtable::Iterator::seek_to_last() {
  const Node* last = mem_->find_last();
  node_ = last == mem_->head_ ? nullptr : last;
  load();
}

void Memtable::Iterator::seek(std::string_view internal_key) {
  if (internal_key.size() < kInternalKeyTrailer) {
    seek_to_user_key(internal_key);
    return;
  }
  node_ = mem_->find_greater_or_equal(internal_key, nullptr);
  load();
}

void Memtable::Iterator::seek_to_user_key(std::string_view user_key, uint64_t snapshot_seq) {
  if (snapshot_seq > kMaxSequence) snapshot_seq = kMaxSequence;
  node_ = mem_->find_greater_or_equal(seek_key(user_key, snapshot_seq), nullptr);
  load();
}

void Memtable::Iterator::next() {
  assert(valid());
  node_ = node_->next(0);
  load();
}

void Memtable::Iterator::prev() {
  assert(valid());
  const Node* before = mem_->find_less_than(key_);
  node_ = before == mem_->head_ ? nullptr : before;
  load();
}

}  // namespace isle
