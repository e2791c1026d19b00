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
//     compactor, remove_sstables = retention, checkpoint = any.
//   * compaction and remove_sstables count only if every input is live.
//   * add_sstable counts only if its SST id is not live already.
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
};
std::string_view apply_outcome_name(ApplyOutcome o);

// Applies `e` (read at position state->next_pos) and advances next_pos.
// Returns Corruption when e.pos != state->next_pos (state unchanged).
Result<ApplyOutcome> apply_entry(ManifestState* state, const LogEntry& e);

// Would `e` be applied if appended to `state` now? (The committer's
// re-validation after losing a race for a position.)
ApplyOutcome check_entry(const ManifestState& state, const LogEntry& e);

}  // namespace isle
