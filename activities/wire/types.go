package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/crestwaves/crest/policy"
)

// Update is one root update of a major wave: a package and the git ref (branch, tag or
// commit) that carries its new version — in the collection's repository, or in Repo (an
// upstream's repository that tagged itself ready for the wave).
type Update struct {
	Package string `json:"package"`
	Ref     string `json:"ref"`
	Repo    string `json:"repo,omitempty"`
}

// ValidateWaveInput is a major wave as a person asked for it (CLI or Web UI), before
// anything is allocated.
type ValidateWaveInput struct {
	Collection string          `json:"collection"`
	BaseRef    string          `json:"base_ref,omitempty"`
	Updates    []Update        `json:"updates"`
	Groups     [][]string      `json:"groups,omitempty"`
	Policy     json.RawMessage `json:"policy,omitempty"`
}

// StartWaveInput registers a major wave and prepares its branch.
type StartWaveInput struct {
	WorkflowID string          `json:"workflow_id"`
	Collection string          `json:"collection"`
	Number     int             `json:"number,omitempty"` // 0 allocates the next
	Title      string          `json:"title,omitempty"`
	BaseRef    string          `json:"base_ref,omitempty"` // default: the collection's main branch
	Input      json.RawMessage `json:"input,omitempty"`    // the workflow input, kept for the record
	// Policy overrides the collection's policy for this wave (policy.Settings as JSON).
	Policy json.RawMessage `json:"policy,omitempty"`
}

// StartWaveResult names the wave and where it starts.
type StartWaveResult struct {
	WaveID     int64      `json:"wave_id"`
	Number     int        `json:"number"`
	Name       string     `json:"name"` // wave-N
	Branch     string     `json:"branch"`
	BaseCommit string     `json:"base_commit"`
	Collection Collection `json:"collection"`
	// Policy is the effective, validated policy of the wave (policy.Settings as JSON).
	Policy json.RawMessage `json:"policy"`
}

// EvaluateInput asks for a collection's packages at a commit.
type EvaluateInput struct {
	Collection string `json:"collection"`
	Commit     string `json:"commit"`
	System     string `json:"system"`
}

// EvaluateResult identifies the stored evaluation; the graph itself stays in Postgres.
type EvaluateResult struct {
	System       string `json:"system"`
	EvaluationID int64  `json:"evaluation_id"`
	Packages     int    `json:"packages"`
	Edges        int    `json:"edges"`
}

// PlanInput asks for a (re)plan of a major wave's pending updates.
type PlanInput struct {
	Collection   string     `json:"collection"`
	WaveID       int64      `json:"wave_id"`
	Wave         int        `json:"wave"`
	EvaluationID int64      `json:"evaluation_id"`
	Updates      []Update   `json:"updates"`
	Groups       [][]string `json:"groups,omitempty"`
	// FirstMinor numbers the planned minor waves from here (replans continue the count).
	FirstMinor int `json:"first_minor"`
	// Policy is the wave's effective policy: its protected roots must exist.
	Policy json.RawMessage `json:"policy,omitempty"`
}

// PlannedMinor is one minor wave of a plan, small enough for workflow history: the rebuild
// list stays in the stored plan.
type PlannedMinor struct {
	Number      int      `json:"number"`
	Name        string   `json:"name"` // wave-N-M
	Updates     []Update `json:"updates"`
	After       []int    `json:"after,omitempty"` // minor numbers to wait for
	Builds      int      `json:"builds"`
	CostSeconds float64  `json:"cost_seconds"`
}

// PlanResult is the plan the major wave follows.
type PlanResult struct {
	Minor       []PlannedMinor `json:"minor"`
	Builds      int            `json:"builds"`
	CostSeconds float64        `json:"cost_seconds"`
	// Upstream lists what the wave asked of packages' upstreams: tags found (and used as
	// updates) or requested by issue.
	Upstream []UpstreamCheck `json:"upstream,omitempty"`
}

// UpstreamCheck is the outcome of looking for <prefix>-N in a package's upstream.
type UpstreamCheck struct {
	Package string `json:"package"`
	Repo    string `json:"repo"`
	Tag     string `json:"tag"`
	Found   bool   `json:"found"`
	Issue   string `json:"issue,omitempty"` // the request, when not found
}

// MergeInput merges updates (or fixes: Package may be empty) onto a wave branch, in order,
// and pushes it.
type MergeInput struct {
	Collection string   `json:"collection"`
	Branch     string   `json:"branch"`
	Sources    []Update `json:"sources"`
	Message    string   `json:"message"`
	// Refs are refs of the collection's repository to merge before Sources: what workers
	// wrote before Sources replaced it. Kept so that a merge scheduled by such a worker
	// still merges after an upgrade; nothing writes it now.
	Refs []string `json:"refs,omitempty"`
}

// StartMinorInput registers a minor wave.
type StartMinorInput struct {
	WaveID  int64    `json:"wave_id"`
	Number  int      `json:"number"`
	Name    string   `json:"name"`
	Updates []Update `json:"updates"`
}

// RoundInput lays out one build round of a minor wave for one system.
type RoundInput struct {
	WaveID      int64  `json:"wave_id"`
	MinorWaveID int64  `json:"minor_wave_id"`
	System      string `json:"system"`
	Round       int    `json:"round"`
	// BaseEvaluationID is the major wave's starting point: everything whose derivation
	// differs from it is rebuilt unless locked in or deferred.
	BaseEvaluationID int64 `json:"base_evaluation_id"`
	EvaluationID     int64 `json:"evaluation_id"`
	// PreviousEvaluationID (retry rounds) is this minor wave's evaluation before a fix
	// commit: what the fix changed is rebuilt.
	PreviousEvaluationID int64 `json:"previous_evaluation_id,omitempty"`
	// Retry lists packages to build again (retry rounds), with their blocked dependents.
	Retry []string `json:"retry,omitempty"`
	// Deferred lists updates of other unfinished minor waves: what depends on them is
	// rebuilt there, once, not here.
	Deferred  []string `json:"deferred,omitempty"`
	ShardSize int      `json:"shard_size"`
	// Fixed lists packages whose security fix was merged onto the wave branch since the
	// previous minor wave started (first rounds): their reverse closure is rebuilt here even
	// where other minor waves locked it in, since those built it against the vulnerable
	// package; that is what retires a patch's graft debt.
	Fixed []string `json:"fixed,omitempty"`
	// Dispatch writes the round's frontier too, for a dispatcher that builds each package
	// as soon as its dependencies are built (TakeReady) instead of in layers.
	Dispatch bool `json:"dispatch,omitempty"`
	// Policy is the wave's effective policy (policy.Settings as JSON): its protected roots
	// mark the packages policy never settles implicitly. Empty: the defaults.
	Policy json.RawMessage `json:"policy,omitempty"`
}

// DefaultShardSize bounds the packages one shard workflow builds, which keeps its history
// near 3,000 events (about six per build).
const DefaultShardSize = 400

// TakeReadyInput asks for up to Max ready packages of a dependency-driven round.
type TakeReadyInput struct {
	WaveID       int64  `json:"wave_id"`
	MinorWaveID  int64  `json:"minor_wave_id"`
	EvaluationID int64  `json:"evaluation_id"`
	System       string `json:"system"`
	Round        int    `json:"round"`
	Max          int    `json:"max"`
	// Token names this take ("<owner>/<n>"): a retried attempt returns what the first took.
	Token string `json:"token"`
	// Owner is the dispatcher; with Reset, what other dispatchers took and never finished
	// is given back first.
	Owner string `json:"owner"`
	Reset bool   `json:"reset,omitempty"`
	// FitCapacity sizes the take to the system's builders instead of Max: their live slots
	// less InFlight, the dispatcher's builds not finished yet (ReadyTasks.Window says how
	// many slots there were).
	FitCapacity bool `json:"fit_capacity,omitempty"`
	InFlight    int  `json:"in_flight,omitempty"`
}

// ReadyTasks are packages to build now.
type ReadyTasks struct {
	Packages []string `json:"packages"`
	Blocked  int      `json:"blocked"` // marked dependency-failed instead of built
	Waiting  int      `json:"waiting"` // pending, not taken yet
	// Window is the system's live build slots a FitCapacity take was sized to; 0 when no
	// builder announced itself, and the take used Max.
	Window int `json:"window,omitempty"`
}

// OpenSlotsInput asks how a dispatcher should open build slots on a dependency-driven
// round (OpenSlots).
type OpenSlotsInput struct {
	MinorWaveID int64  `json:"minor_wave_id"`
	System      string `json:"system"`
	Round       int    `json:"round"`
	// Owner is the dispatcher; with Reset, what other dispatchers took and never recorded
	// is given back first.
	Owner string `json:"owner"`
	Reset bool   `json:"reset,omitempty"`
}

// SlotPlan is what a round has left, and the slots its system's builders have.
type SlotPlan struct {
	Waiting  int `json:"waiting"`  // pending, not taken
	Building int `json:"building"` // pending, taken
	// Slots is the system's live build slots; 0 when no builder announced itself.
	Slots int `json:"slots"`
}

// SlotInput starts one build slot: a BuildSlot activity that takes the round's ready
// packages one at a time, highest priority first, builds and records each, until the
// round has nothing left to take, its generation is stopped, or YieldAfter passed.
type SlotInput struct {
	WaveID       int64  `json:"wave_id"`
	MinorWaveID  int64  `json:"minor_wave_id"`
	EvaluationID int64  `json:"evaluation_id"`
	System       string `json:"system"`
	Round        int    `json:"round"`
	Collection   string `json:"collection"`
	// KeyPrefix makes build idempotency keys (BuildInput.Key) the ones BuildSet's builds had.
	KeyPrefix  string `json:"key_prefix"`
	Owner      string `json:"owner"`
	Generation int    `json:"generation"`
	Slot       int    `json:"slot"`
	// YieldAfter ends the slot at the first package boundary after it (the dispatcher
	// starts it again), so that slots of other rounds waiting for the builders get a turn.
	YieldAfter time.Duration `json:"yield_after"`
	// BuildTimeout bounds each build.
	BuildTimeout time.Duration `json:"build_timeout"`
}

// Token is the slot's take token: the same for every take and attempt of the slot.
func (in SlotInput) Token() string {
	return fmt.Sprintf("%s/g%d/s%d", in.Owner, in.Generation, in.Slot)
}

// SlotResult tallies what a slot's last attempt recorded, and why it ended.
type SlotResult struct {
	Passed     int `json:"passed"`
	Failed     int `json:"failed"`
	TestFailed int `json:"test_failed"`
	Blocked    int `json:"blocked"`
	// Done: the round has nothing left to take; Stopped: its generation was stopped;
	// neither: it yielded, and the round may have more.
	Done    bool `json:"done,omitempty"`
	Stopped bool `json:"stopped,omitempty"`
}

// StopSlotsInput stops a generation of a dispatcher's build slots.
type StopSlotsInput struct {
	Owner      string `json:"owner"`
	Generation int    `json:"generation"`
}

// RoundLayout is how a round's packages are laid out: dependency layers cut into shards.
type RoundLayout struct {
	System   string        `json:"system"`
	Round    int           `json:"round"`
	Packages int           `json:"packages"`
	Locked   int           `json:"locked"`
	Deferred int           `json:"deferred"`
	Broken   int           `json:"broken"` // meta.broken, not scheduled
	Layers   []LayerLayout `json:"layers"`
}

// LayerLayout is how many shards and packages one dependency layer of a round has.
type LayerLayout struct {
	Layer    int `json:"layer"`
	Shards   int `json:"shards"`
	Packages int `json:"packages"`
}

// ShardInput names one shard of a round.
type ShardInput struct {
	WaveID       int64  `json:"wave_id"`
	MinorWaveID  int64  `json:"minor_wave_id"`
	EvaluationID int64  `json:"evaluation_id"`
	System       string `json:"system"`
	Round        int    `json:"round"`
	Layer        int    `json:"layer"`
	Shard        int    `json:"shard"`
}

// ShardTasks are the packages of a shard left to build.
type ShardTasks struct {
	Packages []string `json:"packages"`
	Blocked  int      `json:"blocked"` // marked dependency-failed instead of built
}

// BuildInput builds one package of a minor wave.
type BuildInput struct {
	// Key is the idempotency key: a retried activity with the same key does not build again.
	Key          string `json:"key"`
	MinorWaveID  int64  `json:"minor_wave_id"`
	EvaluationID int64  `json:"evaluation_id"`
	System       string `json:"system"`
	Package      string `json:"package"`
	Collection   string `json:"collection"`
}

// BuildResult is the outcome of building one package and its tests.
type BuildResult struct {
	Status     string   `json:"status"` // policy.StatusPassed, StatusFailed or StatusTestFailed
	Outputs    []string `json:"outputs,omitempty"`
	ExitCode   int      `json:"exit_code,omitempty"`
	FailedTest string   `json:"failed_test,omitempty"`
	LogTail    string   `json:"log_tail,omitempty"`
	// Built and Substituted count the derivations the builder built and the paths it
	// fetched from the binary cache instead (0 when the builder does not say).
	Built       int `json:"built,omitempty"`
	Substituted int `json:"substituted,omitempty"`
}

// ResolveInput settles a failed package.
type ResolveInput struct {
	Wave        string `json:"wave"` // wave-N-M, for the audit log
	MinorWaveID int64  `json:"minor_wave_id"`
	System      string `json:"system"`
	Package     string `json:"package"`
	Resolution  string `json:"resolution"`
	Reason      string `json:"reason"`
	Actor       string `json:"actor"`
}

// CheckRequestInput asks whether a person's Resolve or Retry about a package may be taken
// now. The answer comes from policy's rules applied to what Postgres records, so a failure
// can be settled as soon as it is recorded, whatever the rest of its minor wave is doing,
// and `crest wave status` (policy.Actions on the same records) never invites what this
// refuses.
type CheckRequestInput struct {
	WaveID int64 `json:"wave_id"`
	// MinorWaveID is the minor wave asked (its own update); 0: find it among the major
	// wave's running minor waves.
	MinorWaveID int64 `json:"minor_wave_id,omitempty"`
	// Minor is the minor wave's number if the person named one; 0: where the package failed.
	Minor   int    `json:"minor,omitempty"`
	Package string `json:"package"`
	// Resolve is the request to check; nil checks a retry.
	Resolve *policy.ResolveRequest `json:"resolve,omitempty"`
	// Patch: the minor wave is a security patch's rebuild, whose resolutions follow
	// policy.ValidatePatchResolve (protected packages are fixed or nothing).
	Patch bool `json:"patch,omitempty"`
}

// CheckRequestResult is where an accepted request applies.
type CheckRequestResult struct {
	MinorWaveID int64  `json:"minor_wave_id"`
	Minor       int    `json:"minor"`
	Name        string `json:"name"`
	System      string `json:"system"`
}

// SummaryInput names a minor wave.
type SummaryInput struct {
	MinorWaveID int64 `json:"minor_wave_id"`
}

// Failure is a root cause as workflows see it (no log: that stays in Postgres).
type Failure struct {
	System     string   `json:"system"`
	Package    string   `json:"package"`
	Status     string   `json:"status"` // failed or test-failed
	Resolution string   `json:"resolution,omitempty"`
	Attempts   int      `json:"attempts"`
	Dependents int      `json:"dependents"`
	Blocked    []string `json:"blocked,omitempty"` // the first few dependents, for people
	// Reason is why it is settled, or (unresolved) what it waits for: the policy's latest
	// decision about it.
	Reason string `json:"reason,omitempty"`
	// Issue is where people answer about it (URL or local#N), once filed.
	Issue string `json:"issue,omitempty"`
}

// Summary is where a minor wave stands.
type Summary struct {
	Counts Counts `json:"counts"`
	// Failures are root causes, unresolved first, at most MaxFailuresListed of them: the
	// summary travels in workflow history and signals, which must stay small whatever
	// the failure count. The full list is in Postgres.
	Failures []Failure `json:"failures,omitempty"`
	// RootCauses is how many root causes there are in all (0 in summaries written before
	// the list was capped: count Failures then).
	RootCauses int `json:"root_causes,omitempty"`
	// Settled: policy says the minor wave may tag (policy.Settled on every system). False
	// in summaries written before policy was asked.
	Settled bool `json:"settled,omitempty"`
	// Blocking is what keeps a minor wave whose failures all have a resolution from
	// tagging, in policy's words (at most MaxFailuresListed entries).
	Blocking []string `json:"blocking,omitempty"`
}

// MaxFailuresListed caps Summary.Failures.
const MaxFailuresListed = 50

// Counts tallies a minor wave's packages by status, and how many failures are resolved.
type Counts struct {
	Total            int `json:"total"`
	Pending          int `json:"pending"`
	Passed           int `json:"passed"`
	Failed           int `json:"failed"`
	TestFailed       int `json:"test_failed"`
	DependencyFailed int `json:"dependency_failed"`
	Resolved         int `json:"resolved"`   // failures settled by a resolution
	Unresolved       int `json:"unresolved"` // failures still waiting
}

// TagInput pins a settled minor wave.
type TagInput struct {
	Collection  string   `json:"collection"`
	WaveID      int64    `json:"wave_id"`
	MinorWaveID int64    `json:"minor_wave_id"`
	Name        string   `json:"name"` // wave-N-M
	Major       int      `json:"major"`
	Minor       int      `json:"minor"`
	Branch      string   `json:"branch"`
	Commit      string   `json:"commit"`
	Updates     []Update `json:"updates"`
	Evaluations []int64  `json:"evaluations"`
	// Tag is the tag to push when it is not Name: TagUnfinished's wave-N-Mpre.
	Tag string `json:"tag,omitempty"`
}

// TagResult is the pinned tag.
type TagResult struct {
	Tag     string  `json:"tag"`
	Commit  string  `json:"commit"`
	Summary Summary `json:"summary"`
}

// StateInput records where a wave or minor wave stands, with a reason for the audit log.
type StateInput struct {
	WaveID      int64  `json:"wave_id,omitempty"`
	MinorWaveID int64  `json:"minor_wave_id,omitempty"`
	Wave        string `json:"wave"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Key         string `json:"key"` // idempotency key for the audit entry
}

// ReviewInput asks for the issues and policy facts of a minor wave's root causes.
type ReviewInput struct {
	Collection  string           `json:"collection"`
	Wave        string           `json:"wave"` // wave-N-M
	Major       int              `json:"major"`
	Minor       int              `json:"minor"`
	WaveID      int64            `json:"wave_id"`
	MinorWaveID int64            `json:"minor_wave_id"`
	Evaluations []EvaluateResult `json:"evaluations"`
	Commit      string           `json:"commit"`
	Branch      string           `json:"branch"`
	Updates     []Update         `json:"updates"`
	Policy      json.RawMessage  `json:"policy"`
	// Now is the workflow's time of the review (Review decides grace periods at it).
	Now time.Time `json:"now,omitzero"`
	// Events are the retries that may extend a grace period (Review).
	Events []PackageEvent `json:"events,omitempty"`
	// Patch names the security patch (patch-N) whose rebuild is reviewed: Wave is then the
	// security tag it makes, Major and Minor the covered tag's numbers, and its issues ask
	// for `crest patch` (tracker.Report.Patch).
	Patch string `json:"patch,omitempty"`
}

// PackageEvent is a policy event (a retry) about one package.
type PackageEvent struct {
	Package string       `json:"package"`
	Event   policy.Event `json:"event"`
}

// ReviewResult is what one policy review of a minor wave did: counts, not lists, so that a
// wave with 20,000 failures records a few bytes. The decisions are in the audit log, and
// each waiting package's reason in its result.
type ReviewResult struct {
	// Wake is the earliest grace deadline still running (zero: none).
	Wake time.Time `json:"wake,omitzero"`
	// Waiting counts the root causes still unresolved; Blocked those of them that wait
	// for a person whatever the time (protected, or not judgeable).
	Waiting int `json:"waiting"`
	Blocked int `json:"blocked"`
	// MarkedBroken counts the root causes the policy marked broken now.
	MarkedBroken int `json:"marked_broken"`
}

// Notice is what the policy needs to know about one unresolved root cause.
type Notice struct {
	System      string    `json:"system"`
	Package     string    `json:"package"`
	Status      string    `json:"status"`
	Maintainers []string  `json:"maintainers,omitempty"`
	Notified    time.Time `json:"notified,omitzero"` // when its issue was filed
	// Protected is the chain from a protected root to the package; empty when unprotected.
	Protected []string `json:"protected,omitempty"`
	// LastComment is the newest comment on its issue by someone other than Crest.
	LastComment      time.Time `json:"last_comment,omitzero"`
	LastCommentActor string    `json:"last_comment_actor,omitempty"`
	Issue            string    `json:"issue,omitempty"` // where people answer
}

// DecisionInput records a policy decision: in the audit log, and as the package's reason.
type DecisionInput struct {
	Wave        string    `json:"wave"`
	MinorWaveID int64     `json:"minor_wave_id"`
	System      string    `json:"system"`
	Package     string    `json:"package"`
	Action      string    `json:"action"`
	Reason      string    `json:"reason"`
	Until       time.Time `json:"until,omitzero"`
}

// Failure is what the grace policy knows of the notice's root cause: its facts, the
// retries of it among events, and the newest maintainer comment on its issue.
func (n Notice) Failure(events []PackageEvent) policy.Failure {
	f := policy.Failure{Package: n.Package, Status: policy.Status(n.Status), Maintainers: n.Maintainers,
		Notified: n.Notified, Protected: n.Protected}
	for _, e := range events {
		if e.Package == n.Package {
			f.Events = append(f.Events, e.Event)
		}
	}
	if !n.LastComment.IsZero() {
		f.Events = append(f.Events, policy.Event{Kind: policy.EventComment, At: n.LastComment, Actor: n.LastCommentActor})
	}
	return f
}
