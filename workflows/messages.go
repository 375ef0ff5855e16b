package workflows

import (
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// Updates, signals and queries people (Web UI, `crest wave …`) send to a major wave.
const (
	// UpdatePause stops scheduling new builds; running builds finish.
	UpdatePause = "Pause"
	// UpdateResume lifts a pause.
	UpdateResume = "Resume"
	// UpdateResolve settles a failed package as wont-fix or cant-fix (ResolveRequest).
	UpdateResolve = "Resolve"
	// UpdateRetry builds a failed package again, after merging a fix ref when given (RetryRequest).
	UpdateRetry = "Retry"
	// UpdateAddUpdate adds a root update to the major wave and re-plans what has not started.
	UpdateAddUpdate = "AddUpdate"
	// UpdateValidated answers once the wave's input has been checked (ValidateWave): nil,
	// or every problem that refused it. `crest wave start` sends it with the start
	// (update-with-start) so that a refused wave is an error at the prompt.
	UpdateValidated = "Validated"
	// SignalCancel stops the wave: running builds are cancelled, nothing more is tagged.
	SignalCancel = "Cancel"
	// QueryStatus returns a MajorStatus (major wave) or MinorStatus (minor wave).
	QueryStatus = "Status"
	// QueryPlan returns the major wave's PlanResult.
	QueryPlan = "Plan"
)

// Signals between Crest's own workflows.
const (
	signalMinorStatus = "crest.minor-status" // minor wave → major wave: MinorStatus
	signalResolve     = "crest.resolve"      // major → minor: ResolveRequest (validated)
	signalRetry       = "crest.retry"        // major → minor: RetryRequest (validated)
	signalPause       = "crest.pause"        // major → minor → shards: bool
)

// ResolveRequest settles a failed package of a running minor wave.
type ResolveRequest struct {
	Package    string `json:"package"`
	Resolution string `json:"resolution"` // wont-fix or cant-fix
	Reason     string `json:"reason"`
	Minor      int    `json:"minor,omitempty"` // which minor wave; 0: the one where it failed
	By         string `json:"by,omitempty"`    // who decided (for the audit log); required
	// System is where the failure was recorded; Crest fills it in when it accepts the request.
	System string `json:"system,omitempty"`
}

// policyRequest is the request as policy's rules read it.
func (r ResolveRequest) policyRequest() policy.ResolveRequest {
	return policy.ResolveRequest{Package: r.Package, Resolution: policy.Resolution(r.Resolution), By: r.By, Reason: r.Reason}
}

// RetryRequest builds a failed package again in its minor wave.
type RetryRequest struct {
	Package string `json:"package"`
	Ref     string `json:"ref,omitempty"` // a fix to merge first (branch, tag or commit)
	Minor   int    `json:"minor,omitempty"`
	By      string `json:"by,omitempty"`
	// System is where the failure was recorded; Crest fills it in when it accepts the request.
	System string `json:"system,omitempty"`
}

// AddUpdateRequest adds a root update to a running major wave.
type AddUpdateRequest struct {
	Package string `json:"package"`
	Ref     string `json:"ref"`
	By      string `json:"by,omitempty"`
}

// PauseRequest pauses or resumes a wave.
type PauseRequest struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// MinorStatus is where a minor wave stands.
type MinorStatus struct {
	Name     string        `json:"name"`
	Number   int           `json:"number"`
	Phase    string        `json:"phase"`
	Commit   string        `json:"commit,omitempty"`
	Round    int           `json:"round"`
	Paused   bool          `json:"paused,omitempty"`
	Tag      string        `json:"tag,omitempty"`
	Summary  wire.Summary  `json:"summary"`
	Updates  []wire.Update `json:"updates"`
	Waiting  []string      `json:"waiting,omitempty"` // why it waits, one line per package
	Requests int           `json:"requests,omitempty"`
	// Attention is the error a needs-attention minor wave waits on.
	Attention string `json:"attention,omitempty"`
	// Reason says why the minor wave is in its phase and what a person may do.
	Reason string `json:"reason,omitempty"`
	// Unfinished is the newest tag pushed while the minor wave waited with its builds
	// done (wave-N-Mpre): `crest pin --unfinished` may answer it.
	Unfinished string `json:"unfinished,omitempty"`
}

// Phases of waves, also the CrestPhase search attribute.
const (
	PhasePlanning   = "planning"
	PhasePending    = "pending"
	PhaseMerging    = "merging"
	PhaseEvaluating = "evaluating"
	PhaseBuilding   = "building"
	PhaseWaiting    = "waiting" // failures wait for resolutions
	// PhaseNeedsAttention: infrastructure or input trouble (a ref that does not merge, a
	// commit that does not evaluate, builds that exhausted their retries) waits for a
	// person: Retry (same or new ref), AddUpdate with another ref, or Cancel.
	PhaseNeedsAttention = "needs-attention"
	PhaseTagging        = "tagging"
	PhaseRunning        = "running"
	PhasePaused         = "paused"
	PhaseDone           = "done"
	PhaseCancelled      = "cancelled"
	PhaseFailed         = "failed"
)
