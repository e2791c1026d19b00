// DiskCache: entry files, the folder scan at open, LRU by mtime.
// See disk_cache.h for the contract and docs/format/disk-cache.md for the
// bytes. All file system work is plain POSIX (open/pread/rename/unlink)
// plus std::filesystem with error codes for directory listing: nothing
// here throws on I/O errors.
#include "cache/disk_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "util/coding.h"
#include "util/hash.h"

namespace isle {

namespace fs = std::filesystem;

namespace {

// Header layout (docs/format/disk-cache.md):
//   [0,8) magic  [8,10) version  [10,12) reserved 0  [12,16) key length
//   [16,24) payload length  [24,32) xxh3_64(key || payload)
//   [32,36) checksum32 of [0,32)  [36,40) reserved 0
constexpr char kMagic[8] = {'I', 'S', 'L', 'E', 'D', 'C', 'E', '\x01'};
constexpr uint16_t kVersion = 1;
constexpr const char* kTmpDir = "tmp";
constexpr const char* kLockFile = "LOCK";

struct Header {
  uint32_t key_len = 0;
  uint64_t payload_len = 0;
  uint64_t checksum = 0;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  // Closes now and reports whether close succeeded.
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

int open_retry(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

// 1 = all n bytes read, 0 = end of file first, -1 = error (errno set).
int read_at(int fd, char* buf, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return 0;
    buf += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return 1;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

std::string name_of(std::string_view key) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(key.data(), key.size()));
  return to_hex(std::string_view(reinterpret_cast<const char*>(c.digest), sizeof c.digest));
}

bool is_entry_name(const std::string& name, const std::string& folder) {
  if (name.size() != 32 || name.compare(0, 2, folder) != 0) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
}

std::string encode_header(uint32_t key_len, uint64_t payload_len, uint64_t checksum) {
  std::string h(kMagic, sizeof kMagic);
  h.push_back(static_cast<char>(kVersion & 0xff));
  h.push_back(static_cast<char>(kVersion >> 8));
  h.append(2, '\0');
  put_fixed32(&h, key_len);
  put_fixed64(&h, payload_len);
  put_fixed64(&h, checksum);
  put_fixed32(&h, checksum32(h));
  h.append(4, '\0');
  return h;
}

// Checks everything the header alone can tell, given the file's size.
bool decode_header(std::string_view h, uint64_t file_size, Header* out) {
  if (h.size() < DiskCache::kHeaderSize) return false;
  if (std::memcmp(h.data(), kMagic, sizeof kMagic) != 0) return false;
  const uint16_t version = static_cast<uint16_t>(static_cast<unsigned char>(h[8]) |
                                                 (static_cast<unsigned char>(h[9]) << 8));
  if (version != kVersion || h[10] != 0 || h[11] != 0) return false;
  if (decode_fixed32(h.data() + 32) != checksum32(h.substr(0, 32))) return false;
  if (decode_fixed32(h.data() + 36) != 0) return false;
  out->key_len = decode_fixed32(h.data() + 12);
  out->payload_len = decode_fixed64(h.data() + 16);
  out->checksum = decode_fixed64(h.data() + 24);
  if (out->key_len > DiskCache::kMaxKeySize) return false;
  if (file_size < DiskCache::kHeaderSize + out->key_len) return false;
  return out->payload_len == file_size - DiskCache::kHeaderSize - out->key_len;
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string hex2(int i) {
  static const char* kDigits = "0123456789abcdef";
  return {kDigits[i >> 4], kDigits[i & 15]};
}

}  // namespace

Result<std::shared_ptr<DiskCache>> DiskCache::open(std::string dir, uint64_t budget_bytes) {
  if (dir.empty()) return Status::InvalidArgument("disk cache: empty directory");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("disk cache: cannot create " + dir + ": " + ec.message());
  const std::string lock_path = dir + "/" + kLockFile;
  const int lock_fd = open_retry(lock_path, O_RDWR | O_CREAT, 0644);
  if (lock_fd < 0) {
    return Status::IOError("disk cache: cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    return Status::IOError("disk cache: " + dir + " is in use by another DiskCache (" +
                           std::strerror(err) + ")");
  }
  std::shared_ptr<DiskCache> cache(new DiskCache(std::move(dir), budget_bytes, lock_fd));
  ISLE_RETURN_IF_ERROR(cache->scan());
  return cache;
}

DiskCache::DiskCache(std::string dir, uint64_t budget, int lock_fd)
    : dir_(std::move(dir)), budget_(budget), lock_fd_(lock_fd) {}

DiskCache::~DiskCache() { ::close(lock_fd_); }  // releases the flock

std::string DiskCache::path_of_name(const std::string& name) const {
  return dir_ + "/" + name.substr(0, 2) + "/" + name;
}

std::string DiskCache::path_of(std::string_view key) const { return path_of_name(name_of(key)); }

Status DiskCache::scan() {
  std::error_code ec;
  // 1. Temp files of puts that never finished.
  const std::string tmp = dir_ + "/" + kTmpDir;
  fs::remove_all(tmp, ec);
  if (ec) return Status::IOError("disk cache: cannot clear " + tmp + ": " + ec.message());
  fs::create_directory(tmp, ec);
  if (ec) return Status::IOError("disk cache: cannot create " + tmp + ": " + ec.message());

  // 2. Entry files: keep those whose header and stored key check out.
  struct Found {
    std::string name;
    uint64_t bytes;
    int64_t mtime;
  };
  std::vector<Found> found;
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < 256; i++) {
    const std::string folder = hex2(i);
    const std::string sub = dir_ + "/" + folder;
    fs::create_directory(sub, ec);
    if (ec) return Status::IOError("disk cache: cannot create " + sub + ": " + ec.message());
    std::vector<std::string> names;
    for (fs::directory_iterator it(sub, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Status::IOError("disk cache: cannot list " + sub + ": " + ec.message());
    for (const std::string& name : names) {
      const std::string path = sub + "/" + name;
      bool good = false;
      struct stat st;
      if (is_entry_name(name, folder) && ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        Fd f(open_retry(path, O_RDONLY));
        char hbuf[kHeaderSize];
        Header h;
        if (f.ok() && ::fstat(f.get(), &st) == 0 && read_at(f.get(), hbuf, kHeaderSize, 0) == 1 &&
            decode_header(std::string_view(hbuf, kHeaderSize), static_cast<uint64_t>(st.st_size),
                          &h)) {
          std::string key(h.key_len, '\0');
          good = read_at(f.get(), key.data(), key.size(), kHeaderSize) == 1 && name_of(key) == name;
        }
        if (good) found.push_back({name, static_cast<uint64_t>(st.st_size), mtime_ns(st)});
      }
      if (!good) {
        fs::remove_all(path, ec);
        if (ec) {
          stats_.io_errors++;
          ec.clear();
        }
        stats_.corruptions++;
      }
    }
  }

  // 3. Rebuild the LRU, oldest first, then trim to the budget.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });
  for (Found& f : found) {
    lru_.push_front(f.name);
    index_[f.name] = Entry{f.bytes, next_generation_++, lru_.begin()};
    used_ += f.bytes;
  }
  evict_locked();
  return Status::OK();
}

void DiskCache::remove_locked(std::unordered_map<std::string, Entry>::iterator it,
                              bool unlink_file) {
  if (unlink_file && ::unlink(path_of_name(it->first).c_str()) != 0 && errno != ENOENT) {
    stats_.io_errors++;
  }
  used_ -= it->second.bytes;
  lru_.erase(it->second.pos);
  index_.erase(it);
}

void DiskCache::evict_locked() {
  while (used_ > budget_ && !lru_.empty()) {
    remove_locked(index_.find(lru_.back()), true);
    stats_.evictions++;
  }
}

DiskCache::ReadOutcome DiskCache::read_entry(const std::string& path, std::string_view key,
                                             std::string* payload) {
  Fd f(open_retry(path, O_RDONLY));
  if (!f.ok()) return errno == ENOENT ? ReadOutcome::kMissing : ReadOutcome::kIOError;
  struct stat st;
  if (::fstat(f.get(), &st) != 0) return ReadOutcome::kIOError;
  char hbuf[kHeaderSize];
  const int hr = read_at(f.get(), hbuf, kHeaderSize, 0);
  if (hr < 0) return ReadOutcome::kIOError;
  Header h;
  if (hr == 0 ||
      !decode_header(std::string_view(hbuf, kHeaderSize), static_cast<uint64_t>(st.st_size), &h)) {
    return ReadOutcome::kCorrupt;
  }
  std::string body(static_cast<size_t>(h.key_len + h.payload_len), '\0');
  const int br = read_at(f.get(), body.data(), body.size(), kHeaderSize);
  if (br < 0) return ReadOutcome::kIOError;
  if (br == 0 || xxh3_64(body) != h.checksum) return ReadOutcome::kCorrupt;
  if (std::string_view(body).substr(0, h.key_len) != key) return ReadOutcome::kOtherKey;
  body.erase(0, h.key_len);
  *payload = std::move(body);
  ::futimens(f.get(), nullptr);  // recency for the next open; best effort
  return ReadOutcome::kOk;
}

std::optional<std::string> DiskCache::get(std::string_view key) {
  const std::string name = name_of(key);
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = key.size() > kMaxKeySize ? index_.end() : index_.find(name);
    if (it == index_.end()) {
      stats_.misses++;
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    generation = it->second.generation;
  }
  std::string payload;
  const ReadOutcome outcome = read_entry(path_of_name(name), key, &payload);
  std::lock_guard<std::mutex> lock(mu_);
  if (outcome == ReadOutcome::kOk) {
    stats_.hits++;
    return payload;
  }
  stats_.misses++;
  // Act on the index only if the file was not replaced meanwhile.
  auto it = index_.find(name);
  const bool same = it != index_.end() && it->second.generation == generation;
  switch (outcome) {
    case ReadOutcome::kMissing:  // deleted behind our back
      if (same) remove_locked(it, false);
      break;
    case ReadOutcome::kCorrupt:
      stats_.corruptions++;
      if (same) remove_locked(it, true);
      break;
    case ReadOutcome::kIOError:
      stats_.io_errors++;
      break;
    case ReadOutcome::kOtherKey:  // a hash collision: the file belongs to another key
    case ReadOutcome::kOk:
      break;
  }
  return std::nullopt;
}

void DiskCache::put(std::string_view key, std::string_view bytes) {
  const uint64_t size = entry_size(key.size(), bytes.size());
  if (key.size() > kMaxKeySize || size > budget_) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.rejected++;
    return;
  }
  // Build the whole file, write it to a temp file, then rename it in place.
  std::string file(kHeaderSize, '\0');
  file.reserve(size);
  file.append(key);
  file.append(bytes);
  const std::string header = encode_header(static_cast<uint32_t>(key.size()), bytes.size(),
                                           xxh3_64(std::string_view(file).substr(kHeaderSize)));
  file.replace(0, kHeaderSize, header);

  const std::string tmp = dir_ + "/" + kTmpDir + "/" + std::to_string(tmp_counter_.fetch_add(1)) +
                          "-" + std::to_string(::getpid()) + ".tmp";
  bool written = false;
  {
    Fd f(open_retry(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    written = f.ok() && write_all(f.get(), file) && f.close();
  }
  const std::string name = name_of(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (!written || ::rename(tmp.c_str(), path_of_name(name).c_str()) != 0) {
    ::unlink(tmp.c_str());
    stats_.io_errors++;
    return;
  }
  if (auto it = index_.find(name); it != index_.end()) remove_locked(it, false);  // replaced
  lru_.push_front(name);
  index_[name] = Entry{size, next_generation_++, lru_.begin()};
  used_ += size;
  stats_.inserts++;
  evict_locked();
}

void DiskCache::erase(std::string_view key) {
  if (key.size() > kMaxKeySize) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(name_of(key)); it != index_.end()) remove_locked(it, true);
}

CacheStats DiskCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CacheStats s = stats_;
  s.bytes_used = used_;
  s.entries = index_.size();
  s.capacity_bytes = budget_;
  return s;
}

}  // namespace isle
