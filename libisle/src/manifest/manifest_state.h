// Replay: the deterministic state machine that turns log entries into the
// manifest state (DESIGN §3). Every process applies the same entries with
// the same rules, so every process that has read up to position P agrees
// on the state before P.
//
// Validity rules (an invalid entry is skipped, counted, and changes nothing
// but next_pos):
//   * fence_claim for role R counts iff its epoch is greater than the
//     highest epoch claimed for R so far. The three roles are independent:
//     a claim never touches another role's fence.
//   * every other entry counts iff its epoch equals the current epoch of
//     its role (a superseded owner's late entries are ignored) and the op
//     is one that role may perform: add_sstable = writer, compaction =
//     compactor, remove_sstables = retention, materialize = writer,
//     checkpoint = any.
//   * compaction and remove_sstables count only if every input is live.
//   * add_sstable counts only if its SST id is not live already (nor an
//     inline SST pending). An add_sstable of an SST OBJECT counts only
//     while no inline SST is pending (kInlinePending): the writer
//     materializes every pending inline SST first, so every sequence in
//     inline_ssts stays above every sequence in l0 and runs.
//     An add_sstable carrying an inline SST carries nothing else
//     (kMalformed).
//   * a chained add_sstable (LogEntry::chained, several flushes in
//     flight) counts only if the state's data_seq equals its
//     prev_data_seq (kChainBroken): directly after the writer data it was
//     sent behind. data_seq only grows, so no copy of it counts twice.
//   * add_sstable of an inline SST (docs/format/manifest.md, "Inline
//     flushes") appends it to inline_ssts instead of l0; last_seq and
//     data_seq move exactly as for an SST object.
//   * materialize (writer) counts only if its inputs are the ids of the
//     OLDEST k >= 1 pending inline SSTs in order (kNotOldestInline), and
//     its one added SST is an object at level 0 whose id is new, whose
//     sequence range is the inputs' union and whose entry count is their
//     sum, and whose blobs include every input's blobs (kMalformed). It removes the inputs from inline_ssts and appends
//     the SST to l0; it never moves last_seq or data_seq.
// An entry whose position differs from the one it was read at is a
// Corruption error, not a skip: it means the object was written wrongly.
#pragma once

#include "isle/status.h"
#include "manifest/manifest_types.h"

namespace isle {

// Why an entry was skipped, or kApplied.
enum class ApplyOutcome {
  kApplied,
  kStaleEpoch,      // not the role's current epoch (or a claim not newer)
  kWrongRole,       // the op is not one its role may perform
  kInputsGone,      // an input SST is not live
  kDuplicateSst,    // the added SST id is already live
  kInlinePending,   // an SST object added while inline SSTs are pending
  kNotOldestInline,  // materialize inputs are not the oldest inline SSTs
  kMalformed,       // an entry whose shape breaks a rule (see above)
  kChainBroken,     // a chained add_sstable not directly after its prev_data_seq
};
std::string_view apply_outcome_name(ApplyOutcome o);

// Applies `e` (read at position state->next_pos) and advances next_pos.
// Returns Corruption when e.pos != state->next_pos (state unchanged).
Result<ApplyOutcome> apply_entry(ManifestState* state, const LogEntry& e);

// Would `e` be applied if appended to `state` now? (The committer's
// re-validation after losing a race for a position.)
ApplyOutcome check_entry(const ManifestState& state, const LogEntry& e);

}  // namespace isle
