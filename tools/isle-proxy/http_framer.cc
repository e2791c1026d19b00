// HttpFramer (http_framer.h): an incremental HTTP/1.1 message splitter.
// Invariant: every input byte is either buffered in head_ (until its head
// completes or fails) or returned as kBody exactly once, in order.
#include "http_framer.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace isle::proxy {

namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_decimal(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 18) return false;  // < 10^18: no overflow
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && s.front() != '+' &&
         s.front() != '-';
}

bool is_version(std::string_view v) { return v == "HTTP/1.1" || v == "HTTP/1.0"; }

}  // namespace

std::string HttpFramer::to_raw(std::string reason) {
  std::string pending = head_done_ ? std::string() : std::move(head_);
  head_.clear();
  head_done_ = false;
  raw_reason_ = std::move(reason);
  state_ = State::kRaw;
  return pending;
}

bool HttpFramer::take_line(std::string_view data, size_t* n, bool* too_long) {
  const size_t lf = data.find('\n');
  const size_t take = lf == std::string_view::npos ? data.size() : lf + 1;
  *too_long = line_.size() + take > kMaxLineBytes;
  *n = take;
  if (*too_long) return false;
  line_.append(data.substr(0, take));
  return lf != std::string_view::npos;
}

std::string HttpFramer::parse_head() {
  std::string_view h(head_);
  // Split into lines, each ending in CRLF; the last one is empty.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < h.size()) {
    const size_t lf = h.find('\n', pos);
    if (lf == std::string_view::npos || lf == pos || h[lf - 1] != '\r') {
      return "a line does not end in CRLF";
    }
    lines.push_back(h.substr(pos, lf - 1 - pos));
    pos = lf + 1;
  }
  if (lines.size() < 2 || !lines.back().empty()) return "incomplete head";
  const std::string_view start = lines[0];
  const size_t sp1 = start.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    return "malformed start line";
  }
  const std::string_view a = start.substr(0, sp1), b = start.substr(sp1 + 1, sp2 - sp1 - 1),
                         c = start.substr(sp2 + 1);
  method_.clear();
  target_.clear();
  status_ = 0;
  if (kind_ == Kind::kRequest) {
    if (!is_token(a) || b.empty() || !is_version(c)) return "malformed request line";
    for (char ch : b) {
      if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return "malformed request target";
    }
    method_ = a;
    target_ = b;
  } else {
    if (!is_version(a) || b.size() != 3 || !std::all_of(b.begin(), b.end(), [](char ch) {
          return ch >= '0' && ch <= '9';
        })) {
      return "malformed status line";
    }
    status_ = (b[0] - '0') * 100 + (b[1] - '0') * 10 + (b[2] - '0');
    if (status_ < 100) return "malformed status code";
  }
  bool has_length = false, chunked = false, has_te = false, upgrade = false;
  uint64_t length = 0;
  for (size_t i = 1; i + 1 < lines.size(); i++) {
    const std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') return "obsolete header line folding";
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return "malformed header line";
    }
    const std::string name = lower(line.substr(0, colon));
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (name == "content-length") {
      uint64_t v = 0;
      if (!parse_decimal(value, &v)) return "bad Content-Length";
      if (has_length && v != length) return "conflicting Content-Length headers";
      has_length = true;
      length = v;
    } else if (name == "transfer-encoding") {
      has_te = true;
      chunked = lower(value) == "chunked";
    } else if (name == "upgrade") {
      upgrade = true;
    }
  }
  if (has_te && has_length) return "both Transfer-Encoding and Content-Length";
  if (has_te && !chunked) {
    raw_reason_ = "a transfer coding other than chunked";
    return "";
  }
  if (kind_ == Kind::kRequest) {
    if (method_ == "CONNECT") raw_reason_ = "CONNECT";
    else if (upgrade) raw_reason_ = "Upgrade";
    else if (chunked) state_ = State::kChunkSize;
    else if (has_length && length > 0) state_ = State::kLength, remaining_ = length;
    else state_ = State::kHead;
  } else {
    const bool no_body = request_method_ == "HEAD" || (status_ >= 100 && status_ < 200) ||
                         status_ == 204 || status_ == 304;
    if (status_ == 101) raw_reason_ = "101 Switching Protocols";
    else if (no_body) state_ = State::kHead;
    else if (chunked) state_ = State::kChunkSize;
    else if (has_length) state_ = length > 0 ? State::kLength : State::kHead, remaining_ = length;
    else state_ = State::kUntilClose;
  }
  return "";
}

HttpFramer::Step HttpFramer::step(std::string_view data) {
  switch (state_) {
    case State::kRaw:
    case State::kUntilClose:
      return {Event::kBody, data.size()};
    case State::kHead: {
      if (head_done_) {
        head_.clear();
        head_done_ = false;
      }
      if (head_.size() == 0) {
        start_line_seen_ = false;
        head_.reserve(std::min<size_t>(max_header_, 4096));
      }
      // Search for the blank line across the old tail and the new bytes.
      const size_t old = head_.size();
      const size_t room = max_header_ - old;
      const size_t take = std::min(room, data.size());
      head_.append(data.substr(0, take));
      const size_t from = old >= 3 ? old - 3 : 0;
      const size_t end = head_.find("\r\n\r\n", from);
      if (end == std::string::npos) {
        if (take < data.size() || head_.size() >= max_header_) {
          return {Event::kHeadTooLarge, take};
        }
        // A head that cannot be HTTP/1.1: fail early instead of waiting for
        // max_header_bytes of garbage. A bare LF would never make the blank
        // line we look for; a control byte in the first line means it is
        // not a start line. Only the new bytes are scanned.
        for (size_t i = old; i < head_.size(); i++) {
          const auto ch = static_cast<unsigned char>(head_[i]);
          if (ch == '\n') {
            if (i == 0 || head_[i - 1] != '\r') {
              raw_reason_ = "a line does not end in CRLF";
              return {Event::kMalformed, take};
            }
            start_line_seen_ = true;
          } else if (!start_line_seen_ && ((ch < 0x20 && ch != '\r') || ch == 0x7f)) {
            raw_reason_ = "a control byte in the start line";
            return {Event::kMalformed, take};
          }
        }
        return {Event::kNeedMore, take};
      }
      // Keep only this head; the rest of the input is the next step's.
      const size_t head_len = end + 4;
      const size_t used = head_len - old;
      head_.resize(head_len);
      raw_reason_.clear();
      std::string why = parse_head();
      if (!why.empty()) {
        raw_reason_ = why;
        return {Event::kMalformed, used};
      }
      if (!raw_reason_.empty()) state_ = State::kRaw;
      head_done_ = true;
      return {Event::kHead, used};
    }
    case State::kLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kHead;
      return {Event::kBody, n};
    }
    case State::kChunkSize:
    case State::kTrailer: {
      size_t n = 0;
      bool too_long = false;
      if (!take_line(data, &n, &too_long)) {
        if (too_long) {
          raw_reason_ = "chunk line longer than 4096 bytes";
          return {Event::kMalformed, 0};
        }
        return {Event::kBody, n};
      }
      std::string_view line(line_);
      if (line.size() < 2 || line[line.size() - 2] != '\r') {
        raw_reason_ = "chunk line does not end in CRLF";
        return {Event::kMalformed, 0};
      }
      line.remove_suffix(2);
      if (state_ == State::kTrailer) {
        if (line.empty()) state_ = State::kHead;  // end of the message
        line_.clear();
        return {Event::kBody, n};
      }
      const size_t semi = line.find(';');
      const std::string_view hex = trim_ows(line.substr(0, semi));
      uint64_t size = 0;
      auto r = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
      if (hex.empty() || hex.size() > 15 || r.ec != std::errc() ||
          r.ptr != hex.data() + hex.size()) {
        raw_reason_ = "bad chunk size";
        return {Event::kMalformed, 0};
      }
      line_.clear();
      if (size == 0) {
        state_ = State::kTrailer;
      } else {
        state_ = State::kChunkData;
        remaining_ = size;
      }
      return {Event::kBody, n};
    }
    case State::kChunkData: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kChunkDataEnd, remaining_ = 2;
      return {Event::kBody, n};
    }
    case State::kChunkDataEnd: {
      // Exactly CRLF after the chunk data.
      const char want = remaining_ == 2 ? '\r' : '\n';
      if (data[0] != want) {
        raw_reason_ = "chunk data not followed by CRLF";
        return {Event::kMalformed, 0};
      }
      if (--remaining_ == 0) state_ = State::kChunkSize;
      return {Event::kBody, 1};
    }
  }
  return {Event::kMalformed, 0};
}

}  // namespace isle::proxy
