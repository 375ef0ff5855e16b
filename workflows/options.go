package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
)

// Limits has the knobs of a wave's fan-out; zero fields take defaults.
type Limits struct {
	// ShardSize is the most packages one BuildShard workflow builds.
	ShardSize int `json:"shard_size,omitempty"`
	// Shards is how many shard workflows of a layer run at once.
	Shards int `json:"shards,omitempty"`
	// BuildsPerShard is how many builds one shard has in flight.
	BuildsPerShard int `json:"builds_per_shard,omitempty"`
	// MinorWaves is how many independent minor waves run at once.
	MinorWaves int `json:"minor_waves,omitempty"`
	// BuildTimeout bounds one package's build and tests.
	BuildTimeout Duration `json:"build_timeout,omitempty"`
	// Builds is how many builds of one system a dependency-driven round has in flight
	// (BuildSet's window); by default Shards × BuildsPerShard, what layers had at most.
	Builds int `json:"builds,omitempty"`
	// HistoryEvents makes a BuildSet continue as new once its history reaches that many
	// events (0: when Temporal suggests it).
	HistoryEvents int `json:"history_events,omitempty"`
	// WaveHistoryEvents makes a major or minor wave continue as new at its next quiet point
	// once its history reaches that many events (0: when Temporal suggests it). Tests force
	// continue-as-new with it; waves started without it behave as before.
	WaveHistoryEvents int `json:"wave_history_events,omitempty"`
	// HeartbeatTimeout declares a silent build's worker dead.
	HeartbeatTimeout Duration `json:"heartbeat_timeout,omitempty"`
	// BuildQueuePrefix names builder task queues: <prefix>-<system>.
	BuildQueuePrefix string `json:"build_queue_prefix,omitempty"`
	// SlotYield is how long a build slot (BuildSlot) keeps taking before it ends at a
	// package boundary and is started again, which gives slots of other rounds waiting for
	// the same builders their turn.
	SlotYield Duration `json:"slot_yield,omitempty"`
}

// withDefaults fills unset limits.
func (l Limits) withDefaults() Limits {
	if l.ShardSize <= 0 {
		l.ShardSize = wire.DefaultShardSize
	}
	if l.Shards <= 0 {
		l.Shards = 4
	}
	if l.BuildsPerShard <= 0 {
		l.BuildsPerShard = 64
	}
	if l.Builds <= 0 {
		l.Builds = l.Shards * l.BuildsPerShard
	}
	if l.MinorWaves <= 0 {
		l.MinorWaves = 1
	}
	if l.BuildTimeout <= 0 {
		l.BuildTimeout = Duration(2 * time.Hour)
	}
	if l.HeartbeatTimeout <= 0 {
		l.HeartbeatTimeout = Duration(time.Minute)
	}
	if l.BuildQueuePrefix == "" {
		l.BuildQueuePrefix = "crest-build"
	}
	if l.SlotYield <= 0 {
		l.SlotYield = Duration(5 * time.Minute)
	}
	return l
}

// historyFull tells a workflow to continue as new at its next quiet point: Temporal
// suggests it, or its history reached events (0: no threshold of ours).
func historyFull(ctx workflow.Context, events int) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || (events > 0 && info.GetCurrentHistoryLength() >= events)
}

// BuildQueue is the task queue of a system's builders.
func BuildQueue(prefix, system string) string { return prefix + "-" + system }

// building runs BuildPackage on the builders of system: a build failure is final, anything
// else (a dead builder, a locked store) is retried, ten times at most, after which the minor
// wave needs attention.
func building(ctx workflow.Context, limits Limits, system string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           BuildQueue(limits.BuildQueuePrefix, system),
		StartToCloseTimeout: time.Duration(limits.BuildTimeout),
		HeartbeatTimeout:    time.Duration(limits.HeartbeatTimeout),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{wire.ErrBuildFailed, wire.ErrTestFailed, wire.ErrInvalidInput},
		},
	})
}

// slotting runs BuildSlot on the builders of system: a slot may start a build just before
// it yields, so it has its yield time and a build's to finish; anything that ends an attempt
// (a dead builder, a store that would not answer) is retried, as a build is, and the retry
// builds again what the slot had taken.
func slotting(ctx workflow.Context, limits Limits, system string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           BuildQueue(limits.BuildQueuePrefix, system),
		StartToCloseTimeout: time.Duration(limits.SlotYield) + time.Duration(limits.BuildTimeout) + 5*time.Minute,
		HeartbeatTimeout:    time.Duration(limits.HeartbeatTimeout),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{wire.ErrInvalidInput, wire.ErrRoundStuck},
		},
	})
}

// prioritized gives the activities of ctx a priority on their task queue (Temporal's
// priority key, policy.BuildPriority's scale); 0 leaves the default.
func prioritized(ctx workflow.Context, priority int) workflow.Context {
	if priority > 0 {
		ctx = workflow.WithPriority(ctx, temporal.Priority{PriorityKey: priority})
	}
	return ctx
}

// bookkeeping runs Crest's own activities (store, git, evaluation) on the workflow's queue.
func bookkeeping(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, // evaluation of a large collection
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{wire.ErrInvalidInput, wire.ErrEvaluationFailed, wire.ErrMergeConflict},
		},
	})
}

// Versions of workflow behaviour (workflow.GetVersion change IDs). Waves started before a
// change keep the old path when replayed.
const (
	// versionSettleAsRecorded: Resolve and Retry are checked against the recorded results
	// (the CheckRequest activity) instead of the last summary, so a failure can be settled
	// as soon as it is recorded.
	versionSettleAsRecorded = "settle-as-recorded"
	// versionValidateBeforeStart: a major wave is checked (ValidateWave) before it
	// allocates anything, and refused with every problem named.
	versionValidateBeforeStart = "validate-before-start"
	// versionNeedsAttention: trouble that is not a build failure (a ref that does not merge,
	// a commit that does not evaluate, builds out of retries) leaves a minor wave waiting in
	// needs-attention instead of failing the major wave; every state records its reason.
	versionNeedsAttention = "needs-attention"
	// versionDispatch: a minor wave builds each round dependency-driven (one BuildSet per
	// system over the round's frontier in Postgres) instead of in layers of shards.
	versionDispatch = "dispatch"
	// versionPolicyReview: a minor wave reviews its failures in one Review activity (one
	// recorded decision batch, whatever the failure count, instead of a side effect and
	// local activities per root cause) and tags when policy.Settled says it may.
	versionPolicyReview = "policy-review"
	// versionRecordCancel: a minor wave cancelled through its context (its major wave was
	// cancelled) records its cancelled phase, which it used to leave at building.
	versionRecordCancel = "record-cancel"
	// versionBatchedTakes: a BuildSet takes every build that finished before it takes
	// ready packages again, so one TakeReady fills all the freed slots instead of one
	// take per finished build (which capped a 100,000-package round at a few builds/s).
	versionBatchedTakes = "batched-takes"
	// versionBuildSlots: a BuildSet keeps as many builds in flight as its system's builders
	// have live slots (TakeReady with FitCapacity), not Limits.Builds, which remains the
	// window while no builder has announced itself.
	versionBuildSlots = "build-slots"
	// versionUnfinishedTags: a minor wave that waits for failures with its builds done
	// pushes wave-N-Mpre (TagUnfinished) at each new commit first.
	versionUnfinishedTags = "unfinished-tags"
	// versionPatchRebuild: a security patch whose strategy is rebuild (asked for, or chosen
	// by policy) rebuilds the covered tag's reverse closure through the build engine and
	// tags it, instead of failing as "not built yet"; one asked for is not built alone
	// first, nor are its grafts checked.
	versionPatchRebuild = "patch-rebuild"
	// versionPatchDuplicateWave: a security patch whose strategy is duplicate-wave (asked
	// for, or chosen by policy for a major version change) tags the fix unfinished at once
	// and starts a major wave from the covered tag with the fix as its update, instead of
	// failing as "not built yet"; its finished tag follows the wave's.
	versionPatchDuplicateWave = "patch-duplicate-wave"
	// versionSlotActivities: a BuildSet runs its builds in build slots, BuildSlot
	// activities on the builders that take, build and record package after package
	// (buildSetInSlots), instead of one BuildPackage activity per package.
	versionSlotActivities = "slot-activities"
	// versionPatchSystemTests: a security patch commits its grafts onto the security tag's
	// branch first and runs the collection's system tests of grafted packages against them
	// (CommitGrafts, Evaluate, RunSystemTests); a failing one refuses the graft and offers
	// rebuild, where the grafts used to be tagged untested.
	versionPatchSystemTests = "patch-system-tests"
	// versionPatchSettle: a security patch's rebuild that is not green waits for its
	// failures to be settled as a minor wave's are (issues per root cause, Resolve and
	// Retry updates, policy's grace) and tags once they are, instead of failing the patch.
	versionPatchSettle = "patch-settle"
	// versionQueueWaveLane: a merge queue whose settings build the wave lane (the default)
	// keeps wave-lane changes instead of handing them to the next major wave: they are
	// built aside together (a WaveLaneBatch child) and merged as one already-built unit.
	versionQueueWaveLane = "queue-wave-lane"
	// versionPatchRunningWaves: a security patch that tagged every covered tag brings the
	// fix to the running major waves whose base contains the package (mergeIntoRunningWaves):
	// each merges it onto its branch before it starts another minor wave (mergeFixes; the
	// same change ID in MajorWave), that minor wave rebuilds the fixed packages' dependents
	// even where locked in, and the wave answers; a refused merge fails the patch with the
	// reason (its tags stay).
	versionPatchRunningWaves = "patch-running-waves"
	// versionPatchForkWave: a duplicate-wave patch forks a running major wave whose
	// finished tags it covers (fork): unfinished tags with the fix at once, the running
	// wave superseded (crest.supersede; in MajorWave the same change ID), and a fork that
	// re-verifies its finished minor waves one by one, each covered tag finished as soon
	// as its minor wave is tagged, instead of one new wave per covered tag.
	versionPatchForkWave = "patch-fork-wave"
	// versionPatchPriority: a security patch's builds (the patched package, its system
	// tests, a rebuild's slots) go first on the builders (policy.BuildPrioritySecurity).
	versionPatchPriority = "patch-priority"
	// versionPatchForkAuto: a patch whose strategy is auto forks the running waves of its
	// covered tags too when policy chooses duplicate-wave for them, as an explicit
	// duplicate-wave patch does; and no patch forks a running wave that updates the patched
	// package itself (its fork would be refused, after the wave was superseded).
	versionPatchForkAuto = "patch-fork-auto"
	// versionPatchTagsRunning: a patch whose --tags (Tags) names running major waves
	// (wave-N, alongside finished tags or alone) merges the fix into those and no other
	// running wave, where a patch with Tags used to reach none.
	versionPatchTagsRunning = "patch-tags-running"
	// versionPatchForkCheck: a fork of a running wave loses nothing. The patch sends its fix
	// with crest.supersede and the wave checks first that its fork would start (ValidateWave
	// on the fork's input, in the wave's loop): refused, it keeps running and answers why
	// (ForkPlan.Reason), where it used to stop before its fork was refused. The plan carries
	// what people gave the minor waves it did not finish (Retry fixes, Resolve requests) and
	// the wave's policy overrides into the fork's minor waves, where they were dropped.
	versionPatchForkCheck = "patch-fork-check"
)

// errorText is an error as a person should read it: an activity's or child's own message,
// without Temporal's wrapping.
func errorText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// checkRequest runs the CheckRequest activity and turns its refusal into the error the
// person sees: policy's words, without Temporal's activity wrapping.
func checkRequest(ctx workflow.Context, in wire.CheckRequestInput) (wire.CheckRequestResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{wire.ErrInvalidInput}},
	})
	var out wire.CheckRequestResult
	err := workflow.ExecuteActivity(ctx, wire.ActivityCheckRequest, in).Get(ctx, &out)
	if app, ok := invalidInput(err); ok {
		return out, errors.New(app.Message())
	}
	return out, err
}

// refusal is an activity's InvalidInput refusal as the person should read it: its message,
// non-retryable, without Temporal's activity wrapping. Other errors pass through.
func refusal(err error) error {
	if app, ok := invalidInput(err); ok {
		return temporal.NewNonRetryableApplicationError(app.Message(), wire.ErrInvalidInput, nil)
	}
	return err
}

// invalidInput finds an activity's refusal of its input (not worth retrying) in err.
func invalidInput(err error) (*temporal.ApplicationError, bool) {
	var app *temporal.ApplicationError
	ok := errors.As(err, &app) && app.Type() == wire.ErrInvalidInput
	return app, ok
}
