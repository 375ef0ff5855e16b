package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// Messages of the MergeQueue workflow (its Status query is QueryStatus).
const (
	// UpdateSubmit adds an approved change to the queue (SubmitRequest → SubmitResult).
	UpdateSubmit = "Submit"
	// UpdateWithdraw takes a waiting change out of the queue (WithdrawRequest → nothing).
	UpdateWithdraw = "Withdraw"
	// SignalWaveBuilt tells a queue how the wave-lane batch it built aside ended
	// (WaveLaneOutcome, from its WaveLaneBatch child).
	SignalWaveBuilt = "WaveBuilt"
)

// retryPause is how long a queue waits before making a batch again after infrastructure
// trouble.
const retryPause = time.Minute

// QueueWorkflowID is the ID of the merge queue of a collection's branch: one per target.
func QueueWorkflowID(collection, branch string) string {
	return collection + "/queue/" + branch
}

// MergeQueueInput starts (or continues) the merge queue of one collection's branch.
type MergeQueueInput struct {
	Collection string `json:"collection"`
	// Branch is the target branch (default: the collection's main branch).
	Branch string `json:"branch,omitempty"`
	// Settings are the queue's knobs (policy.QueueSettings as JSON; empty: defaults).
	Settings json.RawMessage `json:"settings,omitempty"`
	Limits   Limits          `json:"limits"`
	// State carries the queue across continue-as-new.
	State *QueueState `json:"state,omitempty"`
}

// SubmitRequest is an approved change: a branch, tag or commit of the collection's
// repository, or a pull request (Ref its head ref, Pull.Head the approved commit).
type SubmitRequest struct {
	Ref    string            `json:"ref"`
	Title  string            `json:"title,omitempty"`
	Labels []string          `json:"labels,omitempty"`
	By     string            `json:"by,omitempty"`
	Pull   *wire.PullRequest `json:"pull,omitempty"`
}

// SubmitResult is the queued change.
type SubmitResult struct {
	ID     int64  `json:"id"`
	Commit string `json:"commit"`
}

// WithdrawRequest names a waiting change to take out.
type WithdrawRequest struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// QueuedChange is a change waiting in the queue, as the workflow carries it: small, the
// rest is in Postgres.
type QueuedChange struct {
	ID         int64       `json:"id"`
	Ref        string      `json:"ref"`
	Commit     string      `json:"commit"`
	Labels     []string    `json:"labels,omitempty"`
	Lane       policy.Lane `json:"lane,omitempty"` // "" until laned
	LaneReason string      `json:"lane_reason,omitempty"`
	Submitted  time.Time   `json:"submitted"`
}

// QueueState is the whole state of a merge queue: what waits, in queue order, the batch
// window, and counts.
type QueueState struct {
	Waiting []QueuedChange `json:"waiting,omitempty"`
	Window  policy.Window  `json:"window"`
	// Batches numbers the batches (their keys and child workflow IDs) across runs.
	Batches int    `json:"batches"`
	Head    string `json:"head,omitempty"` // the branch head last merged to
	Merged  int    `json:"merged"`
	Ejected int    `json:"ejected"`
	Handed  int    `json:"handed_to_wave"`
	// Building is the batch in progress, for Status.
	Building *BatchStatus `json:"building,omitempty"`
	Why      string       `json:"why,omitempty"`
	// Wave is the wave-lane batch building aside (a WaveLaneBatch child that signals
	// WaveBuilt when it ends), and WaveReady the wave-lane units built green aside, in
	// order, each waiting to be merged as one batch ahead of the next fast-lane batch.
	Wave      *BatchStatus `json:"wave,omitempty"`
	WaveReady []WaveUnit   `json:"wave_ready,omitempty"`
}

// WaveUnit is a wave-lane batch that built green aside: its changes go to the branch
// together, in this order.
type WaveUnit struct {
	Key     string         `json:"key"`
	Changes []QueuedChange `json:"changes"`
}

// BatchStatus is the batch a queue is building.
type BatchStatus struct {
	Key       string      `json:"key"`
	Lane      policy.Lane `json:"lane"`
	Changes   []int64     `json:"changes"`
	Candidate string      `json:"candidate,omitempty"`
	Phase     string      `json:"phase"` // building, bisecting, merging
	Round     int         `json:"round,omitempty"`
}

// QueueStatus is what the Status query of a merge queue returns.
type QueueStatus struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	QueueState
}

// MergeQueue is the long-running merge queue of one collection's branch. Changes arrive
// by the Submit update (refused when their ref is unknown) and leave by Withdraw. Each is
// laned by its rebuild set (QueueLane: policy.ChooseLane). policy.CutBatch decides the
// batches: a priority change alone and first, fast-lane changes by the AIMD window. The
// wave lane (since versionQueueWaveLane, unless the settings hand it off to the next major
// wave as before) is the two-stage queue: policy.CutWave collects mass rebuilds into one
// batch, built aside by a WaveLaneBatch child (candidate, build, bisection) while fast-lane
// batches go on; its green changes come back as one unit that goes next, after priority
// changes: its candidate on the head then rebuilds only what the head changed since. A batch becomes a candidate commit (the head with
// the batch merged), whose rebuild set is built by the build engine (a BuildSet child over
// a build round of its own); green, the branch is fast-forwarded to exactly that commit;
// red, a failure-targeted bisection (policy.Bisection) builds only the failed packages at
// probe commits, several at once, ejects the culprit with its evidence and re-queues the
// rest at the front. Batches build one at a time (the dependent pipeline of
// QueueSettings.MaxBatches is left for later). It continues as new when Temporal suggests
// it, after its handlers finished.
func MergeQueue(ctx workflow.Context, in MergeQueueInput) error {
	q := &mergeQueue{in: in}
	if err := q.setup(ctx); err != nil {
		return err
	}
	return q.run(ctx)
}

type mergeQueue struct {
	in       MergeQueueInput
	st       QueueState
	settings policy.QueueSettings
	limits   Limits
	system   string
	mu       workflow.Mutex
	arrived  bool // a change arrived since the last batch decision
	ready    bool // setup finished: handlers may act
	// waveLane is what QueueLane is told to do with wave-lane changes: "" (hand them off,
	// before versionQueueWaveLane) or the settings' way.
	waveLane policy.WaveLane
	// waves receives the WaveBuilt signals of wave-lane batches built aside.
	waves workflow.ReceiveChannel
	// aside: this is a WaveLaneBatch, whose green batch is not merged but comes back as
	// built (into built).
	aside bool
	built []QueuedChange
}

// buildsWaves says whether the queue builds its wave lane itself.
func (q *mergeQueue) buildsWaves() bool { return q.waveLane == policy.WaveLaneBuild }

// effectiveSettings decodes the queue's settings (policy.QueueSettings as JSON), with
// their defaults, and validates them.
func effectiveSettings(raw json.RawMessage) (policy.QueueSettings, error) {
	var s policy.QueueSettings
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, temporal.NewNonRetryableApplicationError("queue settings: "+err.Error(), wire.ErrInvalidInput, nil)
		}
	}
	eff, err := s.Effective()
	if err != nil {
		return s, temporal.NewNonRetryableApplicationError(err.Error(), wire.ErrInvalidInput, nil)
	}
	return eff, nil
}

// loadSystem reads the queue's collection: its main branch when the queue names none, and
// the system it builds.
func (q *mergeQueue) loadSystem(ctx workflow.Context) error {
	var col wire.Collection
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityLoadCollection, q.in.Collection).Get(ctx, &col); err != nil {
		return refusal(err)
	}
	if q.in.Branch == "" {
		q.in.Branch = col.MainBranch
	}
	if len(col.Systems) == 0 {
		return temporal.NewNonRetryableApplicationError("collection "+col.Name+" has no systems", wire.ErrInvalidInput, nil)
	}
	q.system = col.Systems[0] // one system for now: the others are left for later
	return nil
}

func (q *mergeQueue) setup(ctx workflow.Context) error {
	eff, err := effectiveSettings(q.in.Settings)
	if err != nil {
		return err
	}
	q.settings, q.limits = eff, q.in.Limits.withDefaults()
	q.mu = workflow.NewMutex(ctx)
	q.waves = workflow.GetSignalChannel(ctx, SignalWaveBuilt)
	if q.in.State != nil {
		q.st = *q.in.State
	} else {
		q.st.Window = policy.NewWindow(eff)
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (QueueStatus, error) {
		return QueueStatus{Collection: q.in.Collection, Branch: q.in.Branch, QueueState: q.st}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSubmit, q.submit, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, r SubmitRequest) error {
			if strings.TrimSpace(r.Ref) == "" {
				return errors.New("a change needs a ref: a branch, tag or commit of the collection's repository")
			}
			return nil
		},
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateWithdraw, q.withdraw, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, r WithdrawRequest) error {
			if !slices.ContainsFunc(q.st.Waiting, func(c QueuedChange) bool { return c.ID == r.ID }) {
				return fmt.Errorf("change %d is not waiting in the queue of %s (a change being built cannot be withdrawn)", r.ID, q.in.Branch)
			}
			return nil
		},
	}); err != nil {
		return err
	}
	// Handlers are registered first, so that an update arriving with the start is not
	// refused; they wait for what follows (the collection's branch and system).
	if err := q.loadSystem(ctx); err != nil {
		return err
	}
	if workflow.GetVersion(ctx, versionQueueWaveLane, workflow.DefaultVersion, 1) == 1 {
		q.waveLane = q.settings.WaveLane
	}
	q.ready = true
	return workflow.UpsertTypedSearchAttributes(ctx, SearchCollection.ValueSet(q.in.Collection), SearchPhase.ValueSet("waiting"))
}

// submit records the change (QueueSubmit refuses an unknown ref) and queues it.
func (q *mergeQueue) submit(ctx workflow.Context, r SubmitRequest) (SubmitResult, error) {
	if err := workflow.Await(ctx, func() bool { return q.ready }); err != nil {
		return SubmitResult{}, err
	}
	if err := q.mu.Lock(ctx); err != nil {
		return SubmitResult{}, err
	}
	defer q.mu.Unlock()
	var res wire.QueueSubmitResult
	err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueSubmit, wire.QueueSubmitInput{
		Key: workflow.GetCurrentUpdateInfo(ctx).ID, Collection: q.in.Collection, Branch: q.in.Branch,
		Ref: r.Ref, Title: r.Title, Labels: r.Labels, By: r.By, Pull: r.Pull}).Get(ctx, &res)
	if err != nil {
		if app, ok := invalidInput(err); ok {
			return SubmitResult{}, errors.New(app.Message())
		}
		return SubmitResult{}, err
	}
	if !slices.ContainsFunc(q.st.Waiting, func(c QueuedChange) bool { return c.ID == res.ID }) {
		q.st.Waiting = append(q.st.Waiting, QueuedChange{ID: res.ID, Ref: r.Ref, Commit: res.Commit, Labels: r.Labels, Submitted: workflow.Now(ctx)})
	}
	q.arrived = true
	return SubmitResult(res), nil
}

// withdraw takes a waiting change out.
func (q *mergeQueue) withdraw(ctx workflow.Context, r WithdrawRequest) error {
	if err := q.mu.Lock(ctx); err != nil {
		return err
	}
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.st.Waiting, func(c QueuedChange) bool { return c.ID == r.ID })
	if i < 0 {
		return fmt.Errorf("change %d is not waiting any more", r.ID)
	}
	reason := "withdrawn"
	if r.By != "" {
		reason += " by " + r.By
	}
	if r.Reason != "" {
		reason += ": " + r.Reason
	}
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueWithdraw, wire.QueueWithdrawInput{ID: r.ID, Reason: reason}).Get(ctx, nil); err != nil {
		return err
	}
	q.st.Waiting = slices.Delete(q.st.Waiting, i, i+1)
	return nil
}

func (q *mergeQueue) run(ctx workflow.Context) error {
	for {
		if historyFull(ctx, q.limits.WaveHistoryEvents) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			// A wave-lane batch that ended now is taken into the state carried over: its
			// signal would be lost with this run.
			q.receiveWaves(ctx)
			next := q.in
			st := q.st
			next.State = &st
			return workflow.NewContinueAsNewError(ctx, MergeQueue, next)
		}
		if err := q.mu.Lock(ctx); err != nil {
			return err
		}
		q.arrived = false
		q.receiveWaves(ctx)
		if err := q.lane(ctx); err != nil {
			q.mu.Unlock()
			return err
		}
		queued := make([]policy.Queued, 0, len(q.st.Waiting))
		for _, c := range q.st.Waiting {
			queued = append(queued, policy.Queued{ID: strconv.FormatInt(c.ID, 10), Lane: c.Lane, Submitted: c.Submitted})
		}
		var waveUntil time.Time
		if q.buildsWaves() {
			waveUntil = q.cutWave(ctx, queued)
		}
		d := policy.CutBatch(queued, q.st.Window, 0, workflow.Now(ctx), q.settings)
		q.st.Why = d.Reason
		lane := d.Lane
		var batch []QueuedChange
		if len(q.st.WaveReady) > 0 && d.Lane != policy.LanePriority {
			// A wave-lane unit built aside goes before the next fast-lane batch: it waited
			// hours for its first stage already, and its second rebuilds little.
			unit := q.st.WaveReady[0]
			q.st.WaveReady = q.st.WaveReady[1:]
			lane, batch = policy.LaneWave, unit.Changes
			q.st.Why = fmt.Sprintf("%d wave-lane %s built aside in %s, merged as one unit", len(batch), plural(len(batch), "change", "changes"), unit.Key)
		} else {
			batch = q.takeWaiting(d.Changes)
		}
		q.mu.Unlock()
		if len(batch) == 0 {
			wake := func() bool { return q.arrived || q.waves.Len() > 0 }
			until := d.Until
			if until.IsZero() || (!waveUntil.IsZero() && waveUntil.Before(until)) {
				until = waveUntil
			}
			if until.IsZero() {
				if err := workflow.Await(ctx, wake); err != nil {
					return err
				}
			} else if _, err := workflow.AwaitWithTimeout(ctx, until.Sub(workflow.Now(ctx)), wake); err != nil {
				return err
			}
			continue
		}
		requeue, err := q.runBatch(ctx, lane, batch)
		if err != nil {
			if temporal.IsCanceledError(err) || ctx.Err() != nil {
				return err
			}
			// Infrastructure trouble (builds out of retries, a store that is down): the
			// queue never fails for it. The whole batch goes back and is made again after a
			// pause; whatever the failed attempt already did is found done (the candidate
			// of a branch that already moved to it builds nothing and merges as a no-op).
			requeue = batch
			q.st.Why = fmt.Sprintf("%s: %s; the batch is made again in %s", batchKey(ctx, q.st.Batches), errorText(err), retryPause)
			q.st.Building = nil
			if err := workflow.Sleep(ctx, retryPause); err != nil {
				return err
			}
		}
		q.st.Building = nil
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet("waiting"))
		if len(requeue) > 0 {
			if err := q.mu.Lock(ctx); err != nil {
				return err
			}
			q.st.Waiting = append(requeue, q.st.Waiting...) // back to the front, in batch order
			q.mu.Unlock()
		}
	}
}

// takeWaiting takes the changes a batch decision names (by their IDs in decimal) out of
// the waiting list, in the decision's order.
func (q *mergeQueue) takeWaiting(ids []string) []QueuedChange {
	var out []QueuedChange
	for _, id := range ids {
		i := slices.IndexFunc(q.st.Waiting, func(c QueuedChange) bool { return strconv.FormatInt(c.ID, 10) == id })
		out = append(out, q.st.Waiting[i])
		q.st.Waiting = slices.Delete(q.st.Waiting, i, i+1)
	}
	return out
}

// lane asks for the lane of every change not laned yet (holding the mutex): wave-lane
// changes stay for the wave lane, or are handed to the next major wave and leave the queue
// when it does not build them, and a change that does not merge onto the head is ejected.
func (q *mergeQueue) lane(ctx workflow.Context) error {
	for i := 0; i < len(q.st.Waiting); {
		c := q.st.Waiting[i]
		if c.Lane != "" {
			i++
			continue
		}
		var res wire.QueueLaneResult
		err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueLane, wire.QueueLaneInput{
			Collection: q.in.Collection, Branch: q.in.Branch, ID: c.ID, Commit: c.Commit, Labels: c.Labels, Settings: q.in.Settings,
			WaveLane: q.waveLane,
		}).Get(ctx, &res)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == wire.ErrEvaluationFailed {
			// The change itself does not evaluate on the head: it cannot be built.
			res.Conflict, res.Reason, err = true, fmt.Sprintf("change %d does not evaluate on %s: %s", c.ID, q.in.Branch, app.Message()), nil
		}
		if err != nil {
			return err
		}
		switch {
		case res.Conflict:
			if err := q.finish(ctx, wire.QueueFinishInput{State: "conflict", Reason: res.Reason,
				Ejected: []wire.QueueEjection{{ID: c.ID, Reason: res.Reason}}}); err != nil {
				return err
			}
			q.st.Ejected++
			q.st.Waiting = slices.Delete(q.st.Waiting, i, i+1)
		case res.Lane == policy.LaneWave && !q.buildsWaves():
			q.st.Handed++
			q.st.Waiting = slices.Delete(q.st.Waiting, i, i+1)
		default:
			q.st.Waiting[i].Lane, q.st.Waiting[i].LaneReason = res.Lane, res.Reason
			i++
		}
	}
	return nil
}

func (q *mergeQueue) finish(ctx workflow.Context, in wire.QueueFinishInput) error {
	return workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueFinishBatch, in).Get(ctx, nil)
}

// built is a queue build that ran: its build round and its failed packages.
type built struct {
	layout wire.QueueBuildLayout
	failed []string
}

// build evaluates commit, lays out a queue build (a candidate's rebuild set against
// baseEval, or a probe's packages) and builds it with a BuildSet child, then reads what
// failed.
func (q *mergeQueue) build(ctx workflow.Context, in wire.QueueBuildInput) (built, error) {
	var out built
	var ev wire.EvaluateResult
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityEvaluate, wire.EvaluateInput{
		Collection: q.in.Collection, Commit: in.Commit, System: q.system}).Get(ctx, &ev); err != nil {
		return out, err
	}
	in.Collection, in.System, in.EvaluationID = q.in.Collection, q.system, ev.EvaluationID
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueuePrepareBuild, in).Get(ctx, &out.layout); err != nil {
		return out, err
	}
	if out.layout.Packages > 0 {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: in.Key, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		})
		priority := 0 // before versionQueueWaveLane
		if q.waveLane != "" {
			priority = policy.BuildPriority(q.building(), q.aside)
		}
		err := workflow.ExecuteChildWorkflow(cctx, BuildSet, BuildSetInput{
			RoundInput: wire.RoundInput{WaveID: out.layout.WaveID, MinorWaveID: out.layout.MinorWaveID, System: q.system,
				EvaluationID: ev.EvaluationID, Dispatch: true},
			Collection: q.in.Collection, KeyPrefix: in.Key, Limits: q.limits, Priority: priority,
		}).Get(ctx, nil)
		if err != nil {
			return out, err
		}
	}
	err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueProbeDone, wire.QueueProbeInput{
		BatchID: in.BatchID, MinorWaveID: out.layout.MinorWaveID, System: q.system, Probe: in.Probe, Commit: in.Commit,
	}).Get(ctx, &out.failed)
	return out, err
}

// building is the lane of the batch in progress.
func (q *mergeQueue) building() policy.Lane {
	if q.st.Building == nil {
		return ""
	}
	return q.st.Building.Lane
}

// candidate makes the commit of base with changes merged in order.
func (q *mergeQueue) candidate(ctx workflow.Context, key, base string, changes []QueuedChange) (wire.QueueCandidateResult, error) {
	refs := make([]wire.QueueRef, len(changes))
	for i, c := range changes {
		refs[i] = wire.QueueRef{ID: c.ID, Commit: c.Commit}
	}
	var out wire.QueueCandidateResult
	err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueCandidate, wire.QueueCandidateInput{
		Collection: q.in.Collection, Branch: q.in.Branch, Key: key, Base: base, Changes: refs}).Get(ctx, &out)
	return out, err
}

// batchKey names batch n of this queue: its candidate branch, its records and its build
// children. The first run's ID (kept across continue-as-new) makes the names of a queue
// started afresh, after one was terminated, differ from its predecessor's.
func batchKey(ctx workflow.Context, n int) string {
	return fmt.Sprintf("batch-%.8s-%d", workflow.GetInfo(ctx).FirstRunID, n)
}

func ids(changes []QueuedChange) []int64 {
	out := make([]int64, len(changes))
	for i, c := range changes {
		out[i] = c.ID
	}
	return out
}

// runBatch builds one batch and merges, bisects or re-queues it; it returns the changes
// to put back at the front of the queue.
func (q *mergeQueue) runBatch(ctx workflow.Context, lane policy.Lane, batch []QueuedChange) ([]QueuedChange, error) {
	q.st.Batches++
	return q.buildBatch(ctx, batchKey(ctx, q.st.Batches), lane, batch)
}

// batchBuildKey names a batch's records and build children.
func (q *mergeQueue) batchBuildKey(key string) string {
	return QueueWorkflowID(q.in.Collection, q.in.Branch) + "/" + key
}

// buildBatch builds the batch named key: runBatch's work, also a WaveLaneBatch's.
func (q *mergeQueue) buildBatch(ctx workflow.Context, key string, lane policy.Lane, batch []QueuedChange) ([]QueuedChange, error) {
	buildKey := q.batchBuildKey(key)
	q.st.Building = &BatchStatus{Key: key, Lane: lane, Changes: ids(batch), Phase: "building"}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet("building"))

	cand, err := q.candidate(ctx, key, "", batch)
	if err != nil {
		return batch, err
	}
	if cand.Conflict != 0 {
		var rest []QueuedChange
		for _, c := range batch {
			if c.ID != cand.Conflict {
				rest = append(rest, c)
			}
		}
		q.st.Ejected++
		return rest, q.finish(ctx, wire.QueueFinishInput{State: "conflict", Reason: cand.Reason,
			Ejected: []wire.QueueEjection{{ID: cand.Conflict, Reason: cand.Reason}}})
	}
	q.st.Building.Candidate = cand.Commit
	var batchID int64
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueStartBatch, wire.QueueBatchInput{
		Collection: q.in.Collection, Branch: q.in.Branch, Key: buildKey, Lane: lane, Members: ids(batch),
		Base: cand.Base, Candidate: cand.Commit}).Get(ctx, &batchID); err != nil {
		return batch, err
	}
	var baseEv wire.EvaluateResult
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityEvaluate, wire.EvaluateInput{
		Collection: q.in.Collection, Commit: cand.Base, System: q.system}).Get(ctx, &baseEv); err != nil {
		return batch, err
	}
	res, err := q.build(ctx, wire.QueueBuildInput{Key: buildKey, Name: key, Commit: cand.Commit,
		BaseEvaluationID: baseEv.EvaluationID, BatchID: batchID})
	if err != nil {
		return batch, err
	}
	if len(res.failed) == 0 {
		return q.merge(ctx, batchID, res.layout.MinorWaveID, batch, cand, fmt.Sprintf("%s built green (%d packages)", short(cand.Commit), res.layout.Packages))
	}
	if lane != policy.LaneWave {
		// The AIMD window sizes fast-lane batches: a mass rebuild's failure says nothing of
		// theirs.
		q.st.Window = q.st.Window.Red(q.settings)
	}
	return q.bisect(ctx, batchID, key, buildKey, batch, cand, res)
}

// merge fast-forwards the branch to the tested candidate and records the batch merged; a
// branch that moved meanwhile sends the batch back to the queue, to be made again on it. A
// wave-lane batch built aside is not merged: it is recorded built and its changes go back
// to the queue as one unit (q.built).
func (q *mergeQueue) merge(ctx workflow.Context, batchID, minorWaveID int64, batch []QueuedChange, cand wire.QueueCandidateResult, why string) ([]QueuedChange, error) {
	if q.aside {
		q.built = batch
		return nil, q.finish(ctx, wire.QueueFinishInput{BatchID: batchID, MinorWaveID: minorWaveID, System: q.system, State: "built",
			Built: ids(batch), Reason: fmt.Sprintf("%s; merged later as one unit on %s", why, q.in.Branch)})
	}
	q.st.Building.Phase = "merging"
	err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityQueueFastForward, wire.QueueFastForwardInput{
		Collection: q.in.Collection, Branch: q.in.Branch, Commit: cand.Commit, Expect: cand.Base}).Get(ctx, nil)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == wire.ErrBranchMoved {
		return batch, q.finish(ctx, wire.QueueFinishInput{BatchID: batchID, State: "failed", Requeued: ids(batch),
			Reason: fmt.Sprintf("%s moved while %s was built: made again on the new head", q.in.Branch, short(cand.Commit))})
	} else if err != nil {
		return batch, err
	}
	q.st.Head = cand.Commit
	q.st.Merged += len(batch)
	if q.st.Building.Lane != policy.LaneWave {
		q.st.Window = q.st.Window.Green(q.settings)
	}
	return nil, q.finish(ctx, wire.QueueFinishInput{BatchID: batchID, MinorWaveID: minorWaveID, System: q.system, State: "merged",
		Merged: ids(batch), Reason: fmt.Sprintf("%s; %s fast-forwarded to it", why, q.in.Branch)})
}

// bisect finds the culprit of a red batch with policy's failure-targeted bisection: each
// round's probes (the failed packages at a probe commit) build at once, one coroutine
// each. policy.AfterBisection decides what the verdict does: eject the culprit with its
// evidence and re-queue the rest; merge when every failure is pre-existing; re-queue when
// one was flaky. Flaky failures are recorded per package with the batch's end.
func (q *mergeQueue) bisect(ctx workflow.Context, batchID int64, key, buildKey string, batch []QueuedChange, cand wire.QueueCandidateResult, res built) ([]QueuedChange, error) {
	q.st.Building.Phase = "bisecting"
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet("bisecting"))
	names := make([]string, len(batch))
	for i, c := range batch {
		names[i] = strconv.FormatInt(c.ID, 10)
	}
	b, err := policy.NewBisection(names, res.failed, q.settings.Parallelism)
	if err != nil {
		return batch, err
	}
	for !b.Done {
		q.st.Building.Round = b.Round
		probes := policy.NextProbes(b)
		outs := make([]built, len(probes))
		errs := make([]error, len(probes))
		pending := len(probes)
		for i, p := range probes {
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer func() { pending-- }()
				commit := cand.Commit
				switch {
				case p.Kind == policy.ProbeBase || p.Prefix == 0:
					commit = cand.Base
				case p.Prefix < len(batch):
					pc, err := q.candidate(ctx, fmt.Sprintf("%s-prefix-%d", key, p.Prefix), cand.Base, batch[:p.Prefix])
					if err != nil {
						errs[i] = err
						return
					}
					commit = pc.Commit
				}
				probe := p
				outs[i], errs[i] = q.build(ctx, wire.QueueBuildInput{Key: fmt.Sprintf("%s/probe-r%d-%s-%d", buildKey, p.Round, p.Kind, p.Prefix),
					Name: fmt.Sprintf("%s probe %s", buildKey, p), Commit: commit, Packages: p.Packages, BatchID: batchID, Probe: &probe})
			})
		}
		if err := workflow.Await(ctx, func() bool { return pending == 0 }); err != nil {
			return batch, err
		}
		if err := errors.Join(errs...); err != nil {
			return batch, err
		}
		for i, p := range probes {
			if b, err = policy.Record(b, p, outs[i].failed); err != nil {
				return batch, err
			}
		}
	}
	v := policy.Culprit(b)
	switch out := policy.AfterBisection(v); out.Action {
	case policy.BatchMerge:
		return q.merge(ctx, batchID, res.layout.MinorWaveID, batch, cand, out.Reason)
	case policy.BatchRequeue:
		return batch, q.finish(ctx, wire.QueueFinishInput{BatchID: batchID, MinorWaveID: res.layout.MinorWaveID, System: q.system,
			State: "failed", Reason: out.Reason, Requeued: ids(batch), Flaky: v.Flaky})
	}
	var culprit int64
	var rest []QueuedChange
	for _, c := range batch {
		if strconv.FormatInt(c.ID, 10) == v.Culprit {
			culprit = c.ID
		} else {
			rest = append(rest, c)
		}
	}
	q.st.Ejected++
	return rest, q.finish(ctx, wire.QueueFinishInput{BatchID: batchID, MinorWaveID: res.layout.MinorWaveID, System: q.system,
		State: "failed", Reason: v.Reason, Requeued: ids(rest), Flaky: v.Flaky,
		Ejected: []wire.QueueEjection{{ID: culprit, Reason: v.Reason, Verdict: v}}})
}

// short is a commit's first 12 characters.
func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
