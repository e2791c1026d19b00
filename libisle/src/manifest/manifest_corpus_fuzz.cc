// Writes seed inputs for isle_manifest_fuzz: one valid object of every
// kind (each op, a snapshot, CURRENT), so the fuzzer starts from the
// real grammar instead of guessing JSON.
#include <cstdio>
#include <string>

#include "manifest/manifest_codec.h"
#include "manifest/manifest_state.h"
#include "util/hash.h"

namespace {
void write(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  isle::SstMeta m;
  m.id = "0123456789abcdef";
  m.size = 4096;
  m.sha256 = std::string(64, 'a');
  m.min_key = std::string("a\0b", 3);
  m.max_key = "zz";
  m.seq_lo = 1;
  m.seq_hi = 9;
  m.blobs = {std::string(64, 'b')};
  m.sig = std::string(128, 'c');
  m.sig_key_id = "0011223344556677";
  m.min_lsn = 5;
  m.max_lsn = 7;
  isle::LogEntry e;
  e.pos = 1;
  e.owner = "host:1:abc";
  e.commit_id = std::string(32, 'd');
  e.op = isle::LogOp::kFenceClaim;
  e.epoch = 1;
  e.seq_reserved = 100;
  write(dir, "claim.json", isle::encode_entry(e));
  e.op = isle::LogOp::kAddSstable;
  e.added = {m};
  write(dir, "add.json", isle::encode_entry(e));
  // An inline flush (format 2: the SST's bytes in "data") and the
  // materialize entry that replaces it.
  isle::SstMeta inl = m;
  inl.id = "inline0123456789";
  const std::string inline_bytes = "not a real sst, but the sha256 matches";
  inl.size = inline_bytes.size();
  inl.sha256 = isle::sha256_hex(inline_bytes);
  inl.inline_data.bytes = std::make_shared<const std::string>(inline_bytes);
  e.added = {inl};
  write(dir, "add_inline.json", isle::encode_entry(e));
  e.op = isle::LogOp::kMaterialize;
  e.inputs = {inl.id};
  e.added = {m};
  write(dir, "materialize.json", isle::encode_entry(e));
  e.inputs.clear();
  e.op = isle::LogOp::kCompaction;
  e.role = isle::Role::kCompactor;
  e.inputs = {"x", "y"};
  e.run_id = "run1";
  write(dir, "compaction.json", isle::encode_entry(e));
  e.op = isle::LogOp::kCheckpoint;
  e.snapshot_pos = 4;
  write(dir, "checkpoint.json", isle::encode_entry(e));
  isle::ManifestState s;
  s.next_pos = 5;
  s.l0 = {m};
  s.runs = {isle::SortedRun{"r", {m}}};
  write(dir, "snapshot.json", isle::encode_snapshot(s));
  s.inline_ssts = {inl};
  write(dir, "snapshot_inline.json", isle::encode_snapshot(s));
  isle::CurrentPointer c;
  c.snapshot_pos = 5;
  c.log_seq_start = 5;
  c.max_committed_lsn = 7;
  write(dir, "current.json", isle::encode_current(c));
  return 0;
}
