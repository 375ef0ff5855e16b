package wire

import (
	"encoding/json"
	"fmt"

	"github.com/crestwaves/crest/policy"
)

// ValidatePatchInput is what a security patch is asked to do, checked before anything is
// allocated.
type ValidatePatchInput struct {
	Collection string   `json:"collection"`
	Package    string   `json:"package"`
	Ref        string   `json:"ref"`
	Strategy   string   `json:"strategy"`
	Severity   string   `json:"severity"`
	Tags       []string `json:"tags,omitempty"`
}

// CoveredTag is a finished tag a patch covers, on one system.
type CoveredTag struct {
	Tag          string `json:"tag"`
	Commit       string `json:"commit"`
	WaveID       int64  `json:"wave_id"`
	System       string `json:"system"`
	EvaluationID int64  `json:"evaluation_id"`
}

// ValidatePatchResult names the package (its key) and the tags the patch covers, oldest
// first.
type ValidatePatchResult struct {
	Package string       `json:"package"`
	Tags    []CoveredTag `json:"tags"`
	// Running are the running major waves the input's Tags name (wave-N): with Tags given,
	// the fix is merged into these and no other running wave.
	Running []RunningWave `json:"running,omitempty"`
}

// StartPatchInput registers a patch.
type StartPatchInput struct {
	WorkflowID string `json:"workflow_id"`
	Collection string `json:"collection"`
	Package    string `json:"package"`
	Ref        string `json:"ref"`
	Strategy   string `json:"strategy"`
	Severity   string `json:"severity"`
	Advisory   string `json:"advisory,omitempty"`
	By         string `json:"by,omitempty"`
}

// PreparePatchTagInput merges a patch onto a covered tag, on the branch of its security tag.
type PreparePatchTagInput struct {
	PatchID    int64      `json:"patch_id"`
	Collection string     `json:"collection"`
	Package    string     `json:"package"`
	Ref        string     `json:"ref"`
	Tag        CoveredTag `json:"tag"`
}

// PreparedPatchTag is the merged commit and what its security tag will be called.
type PreparedPatchTag struct {
	Name         string `json:"name"` // <tag>-security-K
	Branch       string `json:"branch"`
	Commit       string `json:"commit"` // the patch merged onto the tag
	ChangedLines int    `json:"changed_lines"`
	// Base is what the fix was merged onto: the covered tag's commit, or, when the tag has
	// a security tag already, that tag's fixes without their grafts (Carries: the earlier
	// fixes the new security tag carries on). Empty before stacking was built: the tag.
	Base    string       `json:"base,omitempty"`
	Carries []CarriedFix `json:"carries,omitempty"`
	// Stacks marks a tag prepared to stack (since fixes stack); Newest is the covered
	// tag's newest security tag then, if any. The security tag is made only while it is
	// still the newest: one tagged meanwhile would be dropped.
	Stacks bool   `json:"stacks,omitempty"`
	Newest string `json:"newest,omitempty"`
}

// CarriedFix is an earlier security fix of a covered tag that a later security tag
// carries: a later patch of another package stacks on it instead of dropping it.
type CarriedFix struct {
	Package string `json:"package"`
	Ref     string `json:"ref"`
	Tag     string `json:"tag"` // the security tag that first had it
}

// GraftsInput asks for the grafts of a covered tag onto the patched package (built from
// the merged commit's evaluation, with outputs PatchedOutputs).
type GraftsInput struct {
	PatchID           int64            `json:"patch_id"`
	WorkflowID        string           `json:"workflow_id"`
	Collection        string           `json:"collection"`
	Package           string           `json:"package"`
	Ref               string           `json:"ref"`
	Severity          string           `json:"severity"`
	Advisory          string           `json:"advisory,omitempty"`
	Tag               CoveredTag       `json:"tag"`
	Prepared          PreparedPatchTag `json:"prepared"`
	PatchedEvaluation int64            `json:"patched_evaluation"`
	PatchedOutputs    []string         `json:"patched_outputs"`
	Strategy          string           `json:"strategy,omitempty"` // TagGrafts: the decided one
	Reason            string           `json:"reason,omitempty"`   // TagGrafts: why
	// SystemTests are the system tests (PACKAGE.TEST) that passed on the grafts, for the
	// tag's summary (TagGrafts).
	SystemTests []string `json:"system_tests,omitempty"`
	// DuplicateWave is the number of the major wave that re-verifies the fix, when it is
	// already allocated (StartDuplicateWave: a fork re-verifies every finished tag of the
	// running wave it forks); 0 allocates the next. Fork is that running wave (wave-N).
	DuplicateWave int    `json:"duplicate_wave,omitempty"`
	Fork          string `json:"fork,omitempty"`
	// Systems are the covered tag on the collection's other systems, with the patched
	// package built there: grafts, rebuilds and the security tag cover every system at
	// once. Empty for a collection of one system.
	Systems []SystemPatch `json:"systems,omitempty"`
}

// SystemPatch is a covered tag on one more system: its evaluation there (Tag), the
// merged commit's (Patched) and the patched package's outputs built there.
type SystemPatch struct {
	System         string   `json:"system"`
	Tag            int64    `json:"tag_evaluation"`
	Patched        int64    `json:"patched_evaluation"`
	PatchedOutputs []string `json:"patched_outputs,omitempty"`
}

// PerSystem is in once per system it covers, its own first: each with that system's
// evaluations and outputs and no Systems.
func (in GraftsInput) PerSystem() []GraftsInput {
	out := []GraftsInput{in}
	out[0].Systems = nil
	for _, s := range in.Systems {
		o := out[0]
		o.Tag.System, o.Tag.EvaluationID, o.PatchedEvaluation, o.PatchedOutputs = s.System, s.Tag, s.Patched, s.PatchedOutputs
		out = append(out, o)
	}
	return out
}

// GraftedCommit is a covered tag's grafts committed onto the branch of its security tag
// (CommitGrafts), before they are tested and tagged.
type GraftedCommit struct {
	Commit string `json:"commit"`
	Grafts int    `json:"grafts"`
	// SystemTests are the collection's system tests of grafted packages: what must pass on
	// the grafts before they are tagged.
	SystemTests []SystemTest `json:"system_tests,omitempty"`
}

// SystemTestsInput runs tests of packages of an evaluation (RunSystemTests): a security
// tag's system tests, against its grafts.
type SystemTestsInput struct {
	Collection   string       `json:"collection"`
	EvaluationID int64        `json:"evaluation_id"`
	System       string       `json:"system"`
	Tests        []SystemTest `json:"tests"`
}

// SystemTestsResult says which tests passed and how the others failed.
type SystemTestsResult struct {
	Passed   []string            `json:"passed,omitempty"` // PACKAGE.TEST
	Failures []SystemTestFailure `json:"failures,omitempty"`
}

// SystemTestFailure is a system test that failed, or whose package did not build, with
// the tail of the failing log.
type SystemTestFailure struct {
	Test    string `json:"test"` // PACKAGE.TEST
	LogTail string `json:"log_tail"`
}

// GraftFacts are what policy.ChooseStrategy needs about a covered tag: graftability, the
// versions and the rebuild cost of the reverse closure.
type GraftFacts struct {
	Graft policy.Graftability `json:"graft"`
	// Unsafe is the first refusal's reason, for people.
	Unsafe         string  `json:"unsafe,omitempty"`
	OldVersion     string  `json:"old_version"`
	NewVersion     string  `json:"new_version"`
	RebuildSeconds float64 `json:"rebuild_seconds"`
	ReverseClosure int     `json:"reverse_closure"`
	Grafts         int     `json:"grafts"`
}

// SecurityTagResult is a pushed security tag.
type SecurityTagResult struct {
	Tag    string `json:"tag"`
	Commit string `json:"commit"`
	Grafts int    `json:"grafts"`
	// Rebuilt counts the packages a rebuild built from source; Retired the grafts of the
	// covered tag it retired.
	Rebuilt int `json:"rebuilt,omitempty"`
	Retired int `json:"retired,omitempty"`
}

// PatchRebuildInput asks for the rebuild of a covered tag with the rebuild strategy:
// everything the merged fix changed in the tag (the patched package and its reverse
// closure), built by the build engine in a build round of its own.
type PatchRebuildInput struct {
	// GraftsInput names the patch, the covered tag, the merged commit and its evaluation
	// (PatchedOutputs unused), with the decided strategy and its reason.
	GraftsInput
	// Key names the build round and prefixes its builds' idempotency keys.
	Key string `json:"key"`
	// Built lists packages built already with the fix (the patched package, when it was
	// built alone before the strategy was chosen): left out of the round.
	Built []string `json:"built,omitempty"`
	// MinorWaveID is the build round (TagRebuild).
	MinorWaveID int64 `json:"minor_wave_id,omitempty"`
}

// PatchRebuildLayout is a rebuild's build round, for BuildSet.
type PatchRebuildLayout struct {
	WaveID      int64 `json:"wave_id"`
	MinorWaveID int64 `json:"minor_wave_id"`
	// Packages is what the round builds; ReverseClosure the size of the patched package's
	// reverse closure in the covered tag (itself included), what the planner expects.
	Packages       int `json:"packages"`
	ReverseClosure int `json:"reverse_closure"`
	// Policy is the collection's effective policy (policy.Settings as JSON), which the
	// rebuild's failures are settled by as a minor wave's are; Major and Minor are the
	// covered tag's numbers (<prefix>-N-M), which its issues name.
	Policy json.RawMessage `json:"policy,omitempty"`
	Major  int             `json:"major,omitempty"`
	Minor  int             `json:"minor,omitempty"`
	// Systems are the collection's other systems the round builds packages on (Packages
	// counts them all); each gets a BuildSet of its own.
	Systems []string `json:"systems,omitempty"`
}

// PatchStateInput records where a patch stands, with a reason for the audit log.
type PatchStateInput struct {
	PatchID    int64  `json:"patch_id"`
	WorkflowID string `json:"workflow_id"`
	State      string `json:"state"`
	Strategy   string `json:"strategy,omitempty"`
	Reason     string `json:"reason"`
	// Tag, when set, is a covered tag that got no security tag (state failed).
	Tag string `json:"tag,omitempty"`
}

// MajorWaveID is the workflow ID of major wave n of a collection, as `crest wave` finds
// it. It is an identifier, not a name people read, and keeps "wave" whatever the tag
// prefix, so that waves started before the prefix was respected are still found.
func MajorWaveID(collection string, n int) string { return fmt.Sprintf("%s/wave-%d", collection, n) }

// DuplicateWave is the major wave that re-verifies a covered tag with the fix
// (duplicate-wave), and the unfinished tag of the fix pushed meanwhile.
type DuplicateWave struct {
	Number     int    `json:"number"`
	Name       string `json:"name"` // wave-N
	WorkflowID string `json:"workflow_id"`
	// Unfinished is <tag>-security-K-unfinished: the fix merged onto the covered tag, not
	// yet built or tested.
	Unfinished string `json:"unfinished"`
}

// DuplicateTagInput asks for the security tag of a covered tag once its duplicate wave
// finished with WaveTags (its minor waves' tags, in order).
type DuplicateTagInput struct {
	GraftsInput
	Wave     DuplicateWave `json:"wave"`
	WaveTags []string      `json:"wave_tags"`
}

// RunningWavesInput asks for the running major waves of a collection whose base contains
// a patch's package.
type RunningWavesInput struct {
	Collection string `json:"collection"`
	Package    string `json:"package"`
}

// RunningWave is a running major wave a security patch reaches: its fix is merged onto
// Branch by the wave itself (workflow WorkflowID).
type RunningWave struct {
	WaveID     int64  `json:"wave_id"`
	Name       string `json:"name"` // wave-N
	WorkflowID string `json:"workflow_id"`
	Branch     string `json:"branch"`
	// UpdatesPackage: the wave updates the patched package itself (one of its minor
	// waves' updates).
	UpdatesPackage bool `json:"updates_package,omitempty"`
}

// PatchMergeInput records how a patch's fix went onto a running wave's branch: Commit,
// the branch's head after the merge, or Reason, why it was refused (a conflict).
type PatchMergeInput struct {
	PatchID    int64       `json:"patch_id"`
	WorkflowID string      `json:"workflow_id"` // the patch's
	Package    string      `json:"package"`
	Ref        string      `json:"ref"`
	Wave       RunningWave `json:"wave"`
	Commit     string      `json:"commit,omitempty"`
	Reason     string      `json:"reason,omitempty"`
}
