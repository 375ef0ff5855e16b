// Package policy holds Crest's breaking-change rules as pure functions: which packages are
// protected, which failures are root causes and which are their consequences, how failures
// are resolved, when a grace period ends, and when a minor wave may tag.
//
// Nothing here does I/O, reads a clock or knows Temporal: time comes in as a parameter, and
// every result is a deterministic function of the inputs (sorted outputs, no map order
// leaking through, input order never showing), so that a workflow may call these functions
// in workflow code and a replay reaches the same decisions.
//
// # Decisions
//
// Every rule answers with a Decision: an Action on a Package with a human-readable Reason,
// plus the deadline (Until), the Resolution or the root causes (BlockedBy) where they
// apply. The workflow records each decision in the audit log as it is; people read the
// reason, machines the action.
//
// # The rules
//
//   - Settings (per collection, overridable per major wave) set the protected roots, the
//     grace period and its extensions. DecodeSettings reads what a person typed, naming
//     unknown fields; Effective layers settings over Defaults and validates the result.
//   - Protected computes the build closure of the protected roots. A protected package is
//     never marked broken and never resolved automatically: its failure blocks the minor
//     wave until it is fixed or a person resolves it.
//   - Gate decides, during a build round, whether a package is built or is
//     dependency-failed and which root causes block it; Classify recomputes a whole round
//     the same way, to verify it. A root cause is a failed package whose dependencies all
//     built. A test failure is a root cause too, but does not block dependents: the output
//     exists.
//   - Grace decides, for a root cause whose maintainers were notified, whether to wait
//     (until when), to mark it broken, or, when it is protected, to block.
//   - Resolve turns a person's request (wont-fix, cant-fix) into a decision after
//     ValidateResolve; Follow lets dependents follow their root causes; Settled says
//     whether a minor wave may tag and, if not, what it waits for. A security patch's
//     rebuild settles its failures by the same rules, with ValidatePatchResolve and
//     PatchActions: a protected package is fixed or nothing there.
package policy
