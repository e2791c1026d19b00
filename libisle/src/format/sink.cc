// FileSink over stdio (buffered appends) plus fsync on close.
#include "format/sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace isle {

Result<std::unique_ptr<FileSink>> FileSink::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return Status::IOError("open " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<FileSink>(new FileSink(path, f));
}

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);
}

Status FileSink::error(std::string_view op) const {
  return Status::IOError(std::string(op) + " " + path_ + ": " + std::strerror(errno));
}

Status FileSink::append(std::string_view data) {
  if (file_ == nullptr) return Status::IOError("append " + path_ + ": file is closed");
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
    return error("write");
  }
  return Status::OK();
}

Status FileSink::flush() {
  if (file_ == nullptr) return Status::IOError("flush " + path_ + ": file is closed");
  if (std::fflush(file_) != 0) return error("flush");
  return Status::OK();
}

Status FileSink::close(bool sync) {
  if (file_ == nullptr) return Status::OK();
  Status s = flush();
  if (s.ok() && sync && ::fsync(fileno(file_)) != 0) s = error("fsync");
  if (std::fclose(file_) != 0 && s.ok()) s = error("close");
  file_ = nullptr;
  return s;
}

}  // namespace isle
