// JSON codec for GC's state objects; see gc_codec.h. nlohmann-json stays in
// this file: its exceptions are caught at each decode boundary and turned
// into Corruption, so none crosses the API.
#include "maint/gc_codec.h"

#include <algorithm>
#include "manifest/json_fields.h"

namespace isle {

using namespace json_fields;

namespace {

template <typename T, typename F>
Result<T> decode(std::string_view bytes, std::string_view what, F body) {
  return decode_object<T>(bytes, what, "gc", kGcFormat, /*format_required=*/true, body);
}

}  // namespace

const PendingMark* PendingMarks::find(std::string_view id) const {
  auto it = std::lower_bound(marks.begin(), marks.end(), id,
                             [](const PendingMark& m, std::string_view k) { return m.id < k; });
  return it != marks.end() && it->id == id ? &*it : nullptr;
}

bool PendingMarks::add(PendingMark m) {
  auto it = std::lower_bound(marks.begin(), marks.end(), m.id,
                             [](const PendingMark& a, const std::string& k) { return a.id < k; });
  if (it != marks.end() && it->id == m.id) return false;
  marks.insert(it, std::move(m));
  return true;
}

bool PendingMarks::remove(std::string_view id) {
  auto it = std::lower_bound(marks.begin(), marks.end(), id,
                             [](const PendingMark& m, std::string_view k) { return m.id < k; });
  if (it == marks.end() || it->id != id) return false;
  marks.erase(it);
  return true;
}

std::string encode_pending_marks(const PendingMarks& p) {
  json marks = json::array();
  for (const PendingMark& m : p.marks) {
    json j = {{"id", m.id},
              {"first_seen_ms", m.first_seen_ms},
              {"due_ms", m.due_ms},
              {"reason", m.reason}};
    if (m.blobs) j["blobs"] = *m.blobs;
    marks.push_back(std::move(j));
  }
  return json{{"format", kGcFormat}, {"marks", std::move(marks)}}.dump();
}

Result<PendingMarks> decode_pending_marks(std::string_view bytes, std::string_view what) {
  return decode<PendingMarks>(bytes, what, [](const json& j) -> Result<PendingMarks> {
    PendingMarks p;
    for (const json& m : get_array(j, "marks")) {
      PendingMark mark;
      mark.id = get_str(m, "id");
      mark.first_seen_ms = get_i64(m, "first_seen_ms");
      mark.due_ms = get_i64(m, "due_ms");
      if (m.contains("reason")) mark.reason = get_str(m, "reason");
      if (m.contains("blobs")) mark.blobs = get_str_array(m, "blobs");
      p.add(std::move(mark));  // sorts and drops duplicates of a hand-edited file
    }
    return p;
  });
}

std::string encode_gc_checkpoint(const GcCheckpoint& c) {
  json live = json::array();
  for (const LiveSstRef& s : c.live) {
    json one = {{"id", s.id}, {"blobs", s.blobs}};
    if (s.l0) one["l0"] = true;
    live.push_back(std::move(one));
  }
  json starts = json::array();
  for (const LogStartSeen& s : c.log_starts) {
    starts.push_back({{"log_seq_start", s.log_seq_start}, {"seen_at_ms", s.seen_at_ms}});
  }
  return json{{"format", kGcFormat},
              {"pos", c.pos},
              {"live", std::move(live)},
              {"log_starts", std::move(starts)},
              {"updated_ms", c.updated_ms}}
      .dump();
}

Result<GcCheckpoint> decode_gc_checkpoint(std::string_view bytes, std::string_view what) {
  return decode<GcCheckpoint>(bytes, what, [](const json& j) -> Result<GcCheckpoint> {
    GcCheckpoint c;
    c.pos = get_u64(j, "pos");
    for (const json& s : get_array(j, "live")) {
      c.live.push_back(
          LiveSstRef{get_str(s, "id"), get_str_array(s, "blobs"), opt_bool(s, "l0", false)});
    }
    for (const json& s : get_array(j, "log_starts")) {
      c.log_starts.push_back(LogStartSeen{get_u64(s, "log_seq_start"), get_i64(s, "seen_at_ms")});
    }
    if (j.contains("updated_ms")) c.updated_ms = get_i64(j, "updated_ms");
    std::sort(c.live.begin(), c.live.end(),
              [](const LiveSstRef& a, const LiveSstRef& b) { return a.id < b.id; });
    std::sort(c.log_starts.begin(), c.log_starts.end(),
              [](const LogStartSeen& a, const LogStartSeen& b) {
                return a.log_seq_start < b.log_seq_start;
              });
    return c;
  });
}

}  // namespace isle
