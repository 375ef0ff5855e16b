package workflows

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// MinorWaveInput is one step of a major wave. The major wave starts it as a child; a person
// never needs to.
type MinorWaveInput struct {
	Collection string        `json:"collection"`
	WaveID     int64         `json:"wave_id"`
	Wave       int           `json:"wave"`
	Number     int           `json:"number"`
	Name       string        `json:"name"` // wave-N-M
	Branch     string        `json:"branch"`
	Updates    []wire.Update `json:"updates"`
	// BaseEvaluations are the major wave's starting point, one per system.
	BaseEvaluations []wire.EvaluateResult `json:"base_evaluations"`
	// Deferred are the updates of other unfinished minor waves.
	Deferred []string `json:"deferred,omitempty"`
	Limits   Limits   `json:"limits"`
	Paused   bool     `json:"paused,omitempty"`
	// Policy is the wave's effective breaking-change policy (policy.Settings as JSON).
	Policy json.RawMessage `json:"policy,omitempty"`
	// Fixed are packages whose security fix the major wave merged onto the branch since
	// the previous minor wave started: the first round rebuilds their dependents even
	// where other minor waves locked them in (they were built against the vulnerable one).
	Fixed []string `json:"fixed,omitempty"`
	// Fixes and Resolves are what people gave the minor wave a fork's minor wave stands
	// for, before its wave was superseded (Carried): the fixes are merged after the
	// updates, before the first evaluation, so the first round builds the failing packages
	// with them; the resolutions are queued for the first review (one whose package does
	// not fail again is dropped there, as a resolution settled meanwhile is).
	Fixes    []wire.Update    `json:"fixes,omitempty"`
	Resolves []ResolveRequest `json:"resolves,omitempty"`
	// Resume carries the state across continue-as-new.
	Resume *minorState `json:"resume,omitempty"`
}

// MinorWaveResult is a finished minor wave.
type MinorWaveResult struct {
	Name    string       `json:"name"`
	Tag     string       `json:"tag"`
	Commit  string       `json:"commit"`
	Summary wire.Summary `json:"summary"`
}

// minorState is everything a minor wave must remember, small and serializable.
type minorState struct {
	MinorWaveID int64                 `json:"minor_wave_id"`
	Phase       string                `json:"phase"`
	Commit      string                `json:"commit"`
	Evaluations []wire.EvaluateResult `json:"evaluations"`
	Round       int                   `json:"round"`
	Built       bool                  `json:"built"` // round 0 done
	Summary     wire.Summary          `json:"summary"`
	Paused      bool                  `json:"paused"`
	Resolves    []ResolveRequest      `json:"resolves,omitempty"`
	Retries     []RetryRequest        `json:"retries,omitempty"`
	// Events are the retries that may extend a grace period, in order.
	Events []wire.PackageEvent `json:"events,omitempty"`
	// Decisions are the latest policy decision per waiting package, by package.
	Decisions []policy.Decision `json:"decisions,omitempty"`
	// Attention is the error a needs-attention minor wave waits on.
	Attention string `json:"attention,omitempty"`
	// Reason is the reason last recorded with the phase.
	Reason string `json:"reason,omitempty"`
	// Fixes are refs people gave while the wave needed attention, merged before the next
	// evaluation.
	Fixes []wire.Update `json:"fixes,omitempty"`
	// Unfinished counts the unfinished tags pushed (wave-N-Mpre, pre2, …); UnfinishedTag
	// is the newest, on UnfinishedCommit.
	Unfinished       int    `json:"unfinished,omitempty"`
	UnfinishedTag    string `json:"unfinished_tag,omitempty"`
	UnfinishedCommit string `json:"unfinished_commit,omitempty"`
}

type minorWave struct {
	in        MinorWaveInput
	st        minorState
	limits    Limits
	cancelled bool
	// recovers: waves started since versionNeedsAttention wait for a person on trouble
	// (needs-attention) and record the reason of every state.
	recovers bool
	// dispatches: waves started since versionDispatch build each round dependency-driven
	// (BuildSet) instead of in layers.
	dispatches bool
	// reviews: waves started since versionPolicyReview review their failures in one
	// activity (Review) and tag when policy says they are settled.
	reviews bool
	// tagsUnfinished: waves started since versionUnfinishedTags push wave-N-Mpre when they
	// first wait with their builds done.
	tagsUnfinished bool
	shards         []workflow.ChildWorkflowFuture // running shards, for pause forwarding
	// drain takes every signal still in its channel (before continuing as new, so none is
	// lost) and tells whether it took any.
	drain func(workflow.Context) bool
}

// MinorWave merges a group's updates onto the wave branch, evaluates, builds and tests
// everything the updates changed that is not locked in (in dependency order, sharded), waits
// until every failure is resolved or fixed, then tags wave-N-M. It answers Resolve and
// Retry updates itself and takes the same requests from its major wave as signals.
func MinorWave(ctx workflow.Context, in MinorWaveInput) (MinorWaveResult, error) {
	w := &minorWave{in: in, limits: in.Limits.withDefaults()}
	if in.Resume != nil {
		w.st = *in.Resume
	} else {
		w.st.Paused, w.st.Fixes, w.st.Resolves = in.Paused, in.Fixes, in.Resolves
	}
	if err := w.setup(ctx); err != nil {
		return MinorWaveResult{}, err
	}
	res, err := w.run(ctx)
	if temporal.IsCanceledError(err) && w.st.Phase != PhaseCancelled &&
		workflow.GetVersion(ctx, versionRecordCancel, workflow.DefaultVersion, 1) == 1 {
		// Cancelled by its major wave (the context, not the Cancel signal): the records
		// still say so, through a context the cancellation does not reach.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		w.phase(dctx, PhaseCancelled)
		res = MinorWaveResult{Name: w.in.Name, Commit: w.st.Commit, Summary: w.st.Summary}
	}
	return res, err
}

func (w *minorWave) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (MinorStatus, error) { return w.status(), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResolve, w.takeResolve,
		workflow.UpdateHandlerOptions{Validator: func(r ResolveRequest) error {
			if err := w.takesRequests(); err != nil {
				return err
			}
			return policy.CheckResolveRequest(r.policyRequest())
		}},
	); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetry, w.takeRetry,
		workflow.UpdateHandlerOptions{Validator: func(r RetryRequest) error {
			if err := w.takesRequests(); err != nil {
				return err
			}
			if w.st.Phase == PhaseNeedsAttention {
				return nil // retry what stopped it, with or without a package and ref
			}
			return checkPackage(r.Package)
		}},
	); err != nil {
		return err
	}
	resolves := workflow.GetSignalChannel(ctx, signalResolve)
	retries := workflow.GetSignalChannel(ctx, signalRetry)
	pauses := workflow.GetSignalChannel(ctx, signalPause)
	cancels := workflow.GetSignalChannel(ctx, SignalCancel)
	w.drain = func(ctx workflow.Context) bool {
		took := false
		for {
			var r ResolveRequest
			var q RetryRequest
			var p bool
			switch {
			case resolves.ReceiveAsync(&r):
				w.acceptResolve(r)
			case retries.ReceiveAsync(&q):
				w.acceptRetry(q)
			case pauses.ReceiveAsync(&p):
				w.setPaused(ctx, p)
			case cancels.ReceiveAsync(nil):
				w.cancel(ctx)
			default:
				return took
			}
			took = true
		}
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(resolves, func(c workflow.ReceiveChannel, _ bool) {
				var r ResolveRequest
				c.Receive(ctx, &r)
				w.acceptResolve(r)
			})
			sel.AddReceive(retries, func(c workflow.ReceiveChannel, _ bool) {
				var r RetryRequest
				c.Receive(ctx, &r)
				w.acceptRetry(r)
			})
			sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) {
				var p bool
				c.Receive(ctx, &p)
				w.setPaused(ctx, p)
			})
			sel.AddReceive(cancels, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, nil)
				w.cancel(ctx)
			})
			sel.Select(ctx)
		}
	})
	return nil
}

// takesRequests tells whether the minor wave may take a person's request at all; which
// packages it takes them about is policy's rule, applied by the handlers.
func (w *minorWave) takesRequests() error {
	switch w.st.Phase {
	case PhaseDone, PhaseTagging, PhaseCancelled:
		return fmt.Errorf("the minor wave is %s", w.st.Phase)
	}
	if w.st.MinorWaveID == 0 {
		return errors.New("the minor wave is still starting: nothing is recorded yet")
	}
	return nil
}

// takeResolve checks a person's resolution against what is recorded (policy's rule, in an
// activity: a failure can be settled as soon as it is recorded, whatever the rest of the
// minor wave is doing) and queues it for the next review.
func (w *minorWave) takeResolve(ctx workflow.Context, r ResolveRequest) (string, error) {
	if workflow.GetVersion(ctx, versionSettleAsRecorded, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return w.acceptResolve(r), nil
	}
	req := r.policyRequest()
	at, err := checkRequest(ctx, wire.CheckRequestInput{WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Package: r.Package, Resolve: &req})
	if err != nil {
		return "", err
	}
	r.System = at.System
	return w.acceptResolve(r), nil
}

// takeRetry is takeResolve for a retry.
func (w *minorWave) takeRetry(ctx workflow.Context, r RetryRequest) (string, error) {
	if workflow.GetVersion(ctx, versionSettleAsRecorded, workflow.DefaultVersion, 1) == workflow.DefaultVersion ||
		w.st.Phase == PhaseNeedsAttention {
		return w.acceptRetry(r), nil
	}
	at, err := checkRequest(ctx, wire.CheckRequestInput{WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Package: r.Package})
	if err != nil {
		return "", err
	}
	r.System = at.System
	return w.acceptRetry(r), nil
}

func (w *minorWave) acceptResolve(r ResolveRequest) string {
	w.st.Resolves = append(w.st.Resolves, r)
	return fmt.Sprintf("%s: %s will be resolved as %s", w.in.Name, r.Package, r.Resolution)
}

func (w *minorWave) acceptRetry(r RetryRequest) string {
	w.st.Retries = append(w.st.Retries, r)
	if r.Ref != "" {
		return fmt.Sprintf("%s: %s will be rebuilt after merging %s", w.in.Name, r.Package, r.Ref)
	}
	return fmt.Sprintf("%s: %s will be rebuilt", w.in.Name, r.Package)
}

func (w *minorWave) setPaused(ctx workflow.Context, p bool) {
	w.st.Paused = p
	for _, f := range w.shards {
		f.SignalChildWorkflow(ctx, signalPause, p) // best effort: a finished shard needs none
	}
}

// cancel stops the minor wave; a dependency-driven round stops taking packages too (a
// layered round starts no more shards).
func (w *minorWave) cancel(ctx workflow.Context) {
	w.cancelled = true
	if w.dispatches {
		for _, f := range w.shards {
			f.SignalChildWorkflow(ctx, SignalCancel, nil) // best effort: a finished round needs none
		}
	}
}

func (w *minorWave) run(ctx workflow.Context) (MinorWaveResult, error) {
	w.recovers = workflow.GetVersion(ctx, versionNeedsAttention, workflow.DefaultVersion, 1) == 1
	w.dispatches = workflow.GetVersion(ctx, versionDispatch, workflow.DefaultVersion, 1) == 1
	w.reviews = workflow.GetVersion(ctx, versionPolicyReview, workflow.DefaultVersion, 1) == 1
	w.tagsUnfinished = workflow.GetVersion(ctx, versionUnfinishedTags, workflow.DefaultVersion, 1) == 1
	ctx = bookkeeping(ctx)
	if w.st.MinorWaveID == 0 {
		w.phase(ctx, PhaseMerging)
		if err := workflow.ExecuteActivity(ctx, wire.ActivityStartMinorWave, wire.StartMinorInput{
			WaveID: w.in.WaveID, Number: w.in.Number, Name: w.in.Name, Updates: w.in.Updates,
		}).Get(ctx, &w.st.MinorWaveID); err != nil {
			return MinorWaveResult{}, err
		}
	}
	if w.st.Commit == "" || len(w.st.Evaluations) == 0 || len(w.st.Fixes) > 0 {
		if err := w.recover(ctx, "merge and evaluate", w.prepare, w.takeAttentionRef); err != nil {
			return w.stopped(ctx, err)
		}
	}
	if !w.st.Built {
		if err := w.recover(ctx, "build", func(ctx workflow.Context) error { return w.buildRound(ctx, nil, nil) }, nil); err != nil {
			return w.stopped(ctx, err)
		}
		w.st.Built = true
	}
	for {
		if err := w.summarize(ctx); err != nil {
			return MinorWaveResult{}, err
		}
		if w.cancelled {
			w.phase(ctx, PhaseCancelled)
			return MinorWaveResult{Name: w.in.Name, Commit: w.st.Commit, Summary: w.st.Summary}, temporal.NewCanceledError(w.in.Name + " cancelled")
		}
		settled := w.st.Summary.Counts.Unresolved == 0 && w.st.Summary.Counts.Pending == 0
		if w.reviews {
			settled = w.st.Summary.Settled
		}
		if settled && len(w.st.Retries) == 0 {
			break
		}
		review := w.applyPolicy
		if w.reviews {
			review = w.review
		}
		wake, resolved, err := review(ctx)
		if err != nil {
			return MinorWaveResult{}, err
		}
		if resolved {
			continue // the policy settled something: look again
		}
		if w.reviews {
			// The review recorded why each failure waits: show it in the status.
			if err := w.summarize(ctx); err != nil {
				return MinorWaveResult{}, err
			}
		}
		if w.tagsUnfinished && w.st.UnfinishedCommit != w.st.Commit {
			w.tagUnfinished(ctx)
		}
		w.phase(ctx, PhaseWaiting)
		asked := func() bool { return len(w.st.Resolves) > 0 || len(w.st.Retries) > 0 || w.cancelled }
		if wake.IsZero() {
			err = workflow.Await(ctx, asked)
		} else if d := wake.Sub(workflow.Now(ctx)); d > 0 {
			_, err = workflow.AwaitWithTimeout(ctx, d, asked)
		}
		if err != nil {
			return MinorWaveResult{}, err
		}
		if err := w.settle(ctx); err != nil {
			return w.stopped(ctx, err)
		}
		if historyFull(ctx, w.limits.WaveHistoryEvents) && !w.drain(ctx) && w.quiet(ctx) {
			next := w.in
			st := w.st
			next.Resume = &st
			return MinorWaveResult{}, workflow.NewContinueAsNewError(ctx, MinorWave, next)
		}
	}
	w.phase(ctx, PhaseTagging)
	var tag wire.TagResult
	evals := make([]int64, len(w.st.Evaluations))
	for i, e := range w.st.Evaluations {
		evals[i] = e.EvaluationID
	}
	if err := workflow.ExecuteActivity(ctx, wire.ActivityTagMinorWave, wire.TagInput{
		Collection: w.in.Collection, WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Name: w.in.Name,
		Major: w.in.Wave, Minor: w.in.Number, Branch: w.in.Branch, Commit: w.st.Commit, Updates: w.in.Updates, Evaluations: evals,
	}).Get(ctx, &tag); err != nil {
		return MinorWaveResult{}, err
	}
	w.st.Summary = tag.Summary
	w.phase(ctx, PhaseDone)
	// Let handlers in progress answer (their validators refuse new ones now) before the
	// workflow completes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return MinorWaveResult{}, err
	}
	return MinorWaveResult{Name: w.in.Name, Tag: tag.Tag, Commit: tag.Commit, Summary: tag.Summary}, nil
}

// prepare merges the minor wave's updates (once) and the fixes people gave since, then
// evaluates the head on every system.
func (w *minorWave) prepare(ctx workflow.Context) error {
	if w.st.Commit == "" {
		w.phase(ctx, PhaseMerging)
		if err := workflow.ExecuteActivity(ctx, wire.ActivityMergeRefs, wire.MergeInput{
			Collection: w.in.Collection, Branch: w.in.Branch, Sources: w.in.Updates, Message: w.in.Name,
		}).Get(ctx, &w.st.Commit); err != nil {
			return err
		}
	}
	if len(w.st.Fixes) > 0 {
		w.phase(ctx, PhaseMerging)
		if err := workflow.ExecuteActivity(ctx, wire.ActivityMergeRefs, wire.MergeInput{
			Collection: w.in.Collection, Branch: w.in.Branch, Sources: w.st.Fixes, Message: w.in.Name + ": fix",
		}).Get(ctx, &w.st.Commit); err != nil {
			return err
		}
		w.st.Fixes = nil
		w.st.Evaluations = nil
	}
	if len(w.st.Evaluations) == 0 {
		w.phase(ctx, PhaseEvaluating)
		evals, err := w.evaluate(ctx, w.st.Commit)
		if err != nil {
			return err
		}
		w.st.Evaluations = evals
	}
	return nil
}

// recover runs step until it succeeds. On waves started since versionNeedsAttention, an
// error that is not a cancellation does not fail the wave: the minor wave waits in
// needs-attention with the error until a person sends Retry (the same again, or with a
// ref, which takeRef applies: nil ignores refs) or cancels. Tags already pushed are never
// touched and nothing recorded is lost.
func (w *minorWave) recover(ctx workflow.Context, what string, step func(workflow.Context) error, takeRef func(RetryRequest)) error {
	for {
		err := step(ctx)
		if err == nil || !w.recovers || w.cancelled || temporal.IsCanceledError(err) {
			return err
		}
		queued := len(w.st.Retries)
		w.st.Attention = what + ": " + errorText(err)
		w.phase(ctx, PhaseNeedsAttention)
		if err := workflow.Await(ctx, func() bool { return len(w.st.Retries) > queued || w.cancelled }); err != nil {
			return err
		}
		if w.cancelled {
			return temporal.NewCanceledError(w.in.Name + " cancelled")
		}
		asked := slices.Clone(w.st.Retries[queued:])
		w.st.Retries = w.st.Retries[:queued:queued]
		for _, r := range asked {
			if r.Ref != "" && takeRef != nil {
				takeRef(r)
			}
		}
		w.st.Attention = ""
	}
}

// takeAttentionRef applies a ref given to a minor wave that could not merge or evaluate:
// it replaces the ref of an update of that package that never merged, or is merged as a
// fix before the next evaluation.
func (w *minorWave) takeAttentionRef(r RetryRequest) {
	if w.st.Commit == "" {
		for i := range w.in.Updates {
			if w.in.Updates[i].Package == r.Package {
				w.in.Updates[i].Ref, w.in.Updates[i].Repo = r.Ref, ""
				return
			}
		}
	}
	w.st.Fixes = append(w.st.Fixes, wire.Update{Package: r.Package, Ref: r.Ref})
}

// stopped ends the minor wave after a step gave up: cancelled, or failed (waves started
// before versionNeedsAttention).
func (w *minorWave) stopped(ctx workflow.Context, err error) (MinorWaveResult, error) {
	if w.cancelled || temporal.IsCanceledError(err) {
		if ctx.Err() != nil && workflow.GetVersion(ctx, versionRecordCancel, workflow.DefaultVersion, 1) == 1 {
			ctx, _ = workflow.NewDisconnectedContext(ctx) // record the end even when cancelled
		}
		w.phase(ctx, PhaseCancelled)
		return MinorWaveResult{Name: w.in.Name, Commit: w.st.Commit, Summary: w.st.Summary}, temporal.NewCanceledError(w.in.Name + " cancelled")
	}
	return MinorWaveResult{}, err
}

// quiet reports that no handler is mid-way, so continuing as new loses nothing.
func (w *minorWave) quiet(ctx workflow.Context) bool {
	return workflow.AllHandlersFinished(ctx) && len(w.st.Resolves) == 0 && len(w.st.Retries) == 0
}

func (w *minorWave) evaluate(ctx workflow.Context, commit string) ([]wire.EvaluateResult, error) {
	evals := make([]wire.EvaluateResult, len(w.in.BaseEvaluations))
	for i, base := range w.in.BaseEvaluations {
		if err := workflow.ExecuteActivity(ctx, wire.ActivityEvaluate, wire.EvaluateInput{
			Collection: w.in.Collection, Commit: commit, System: base.System,
		}).Get(ctx, &evals[i]); err != nil {
			return nil, err
		}
	}
	return evals, nil
}

// buildRound lays out and builds one round on every system: the first (retry nil) or a
// retry of packages after prev evaluations.
func (w *minorWave) buildRound(ctx workflow.Context, retry []string, prev []wire.EvaluateResult) error {
	w.phase(ctx, PhaseBuilding)
	for i, ev := range w.st.Evaluations {
		in := wire.RoundInput{
			WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, System: ev.System, Round: w.st.Round,
			BaseEvaluationID: w.in.BaseEvaluations[i].EvaluationID, EvaluationID: ev.EvaluationID,
			Retry: retry, Deferred: w.in.Deferred, ShardSize: w.limits.ShardSize, Policy: w.in.Policy,
		}
		if retry == nil && prev == nil {
			in.Fixed = w.in.Fixed
		}
		if prev != nil {
			in.PreviousEvaluationID = prev[i].EvaluationID
		}
		if w.dispatches {
			if err := w.buildSet(ctx, in); err != nil {
				return err
			}
			continue
		}
		var layout wire.RoundLayout
		if err := workflow.ExecuteActivity(ctx, wire.ActivityPrepareRound, in).Get(ctx, &layout); err != nil {
			return err
		}
		for _, layer := range layout.Layers {
			if err := w.buildLayer(ctx, ev, layer.Layer, layer.Shards); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildSet lays out one system's round with its frontier and builds it with one BuildSet
// child, dependency-driven.
func (w *minorWave) buildSet(ctx workflow.Context, in wire.RoundInput) error {
	in.Dispatch = true
	var layout wire.RoundLayout
	if err := workflow.ExecuteActivity(ctx, wire.ActivityPrepareRound, in).Get(ctx, &layout); err != nil {
		return err
	}
	if layout.Packages == 0 || w.cancelled {
		return nil
	}
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        fmt.Sprintf("%s/build/%s/r%d", parent, in.System, in.Round),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
	})
	f := workflow.ExecuteChildWorkflow(cctx, BuildSet, BuildSetInput{
		RoundInput: in, Collection: w.in.Collection, KeyPrefix: parent, Limits: w.limits, Paused: w.st.Paused,
	})
	w.shards = append(w.shards[:0], f)
	err := f.Get(ctx, nil)
	w.shards = w.shards[:0]
	return err
}

// buildLayer runs the shards of one dependency layer, a bounded number at a time.
func (w *minorWave) buildLayer(ctx workflow.Context, ev wire.EvaluateResult, layer, shards int) error {
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	var firstErr error
	running, next := 0, 0
	sel := workflow.NewSelector(ctx)
	w.shards = w.shards[:0]
	for next < shards || running > 0 {
		for running < w.limits.Shards && next < shards && !w.cancelled {
			shard := next
			next++
			running++
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:        fmt.Sprintf("%s/build/%s/r%d/l%03d/s%03d", parent, ev.System, w.st.Round, layer, shard),
				ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
			})
			f := workflow.ExecuteChildWorkflow(cctx, BuildShard, ShardInput{
				ShardInput: wire.ShardInput{WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, EvaluationID: ev.EvaluationID,
					System: ev.System, Round: w.st.Round, Layer: layer, Shard: shard},
				Collection: w.in.Collection, KeyPrefix: parent, Limits: w.limits, Paused: w.st.Paused,
			})
			w.shards = append(w.shards, f)
			sel.AddFuture(f, func(f workflow.Future) {
				running--
				if err := f.Get(ctx, nil); err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		if running == 0 {
			break // cancelled before anything started
		}
		sel.Select(ctx)
	}
	return firstErr
}

// settle applies the queued resolutions, then the queued retries as one new round.
func (w *minorWave) settle(ctx workflow.Context) error {
	for len(w.st.Resolves) > 0 {
		r := w.st.Resolves[0]
		w.st.Resolves = w.st.Resolves[1:]
		system := r.System
		if system == "" { // accepted before requests were checked against the records
			f, ok := failureOf(w.st.Summary, r.Package)
			if !ok || f.Resolution != "" {
				continue // settled meanwhile (fixed by a retry, or resolved twice)
			}
			system = f.System
		}
		by := r.By
		if by == "" {
			by = "person"
		}
		err := workflow.ExecuteActivity(ctx, wire.ActivityResolve, wire.ResolveInput{
			Wave: w.in.Name, MinorWaveID: w.st.MinorWaveID, System: system, Package: r.Package,
			Resolution: r.Resolution, Reason: r.Reason, Actor: by,
		}).Get(ctx, nil)
		if _, refused := invalidInput(err); refused {
			continue // settled meanwhile: fixed by a retry, or passed on its rebuild
		}
		if err != nil {
			return err
		}
	}
	if len(w.st.Retries) == 0 {
		return nil
	}
	retries := w.st.Retries
	w.st.Retries = nil
	var fixes []wire.Update
	var pkgs []string
	for _, r := range retries {
		pkgs = append(pkgs, r.Package)
		w.st.Events = append(w.st.Events, wire.PackageEvent{Package: r.Package,
			Event: policy.Event{Kind: policy.EventRetry, At: workflow.Now(ctx), Actor: r.By}})
		if r.Ref != "" && !slices.ContainsFunc(fixes, func(u wire.Update) bool { return u.Ref == r.Ref }) {
			fixes = append(fixes, wire.Update{Package: r.Package, Ref: r.Ref})
		}
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	prev := w.st.Evaluations
	if len(fixes) > 0 {
		merge := func(ctx workflow.Context) error {
			w.phase(ctx, PhaseMerging)
			if err := workflow.ExecuteActivity(ctx, wire.ActivityMergeRefs, wire.MergeInput{
				Collection: w.in.Collection, Branch: w.in.Branch, Sources: fixes,
				Message: fmt.Sprintf("%s: fix for %s", w.in.Name, strings.Join(pkgs, ", ")),
			}).Get(ctx, &w.st.Commit); err != nil {
				return err
			}
			w.phase(ctx, PhaseEvaluating)
			evals, err := w.evaluate(ctx, w.st.Commit)
			if err != nil {
				return err
			}
			w.st.Evaluations = evals
			return nil
		}
		// A fix ref that does not merge or evaluate waits for another ref.
		takeRef := func(r RetryRequest) {
			fixes = slices.DeleteFunc(fixes, func(u wire.Update) bool { return u.Package == r.Package })
			fixes = append(fixes, wire.Update{Package: r.Package, Ref: r.Ref})
		}
		if err := w.recover(ctx, "merge the fix", merge, takeRef); err != nil {
			return err
		}
	}
	w.st.Round++
	return w.recover(ctx, "build", func(ctx workflow.Context) error { return w.buildRound(ctx, pkgs, prev) }, nil)
}

// tagUnfinished pushes the tag of the unfinished wave at its commit (wave-N-Mpre, or
// pre2, … after a fix moved the commit), for those who pin into a wave before it settles.
// It is a courtesy: trouble pushing it is logged, and the wave waits for its failures all
// the same (it tries again at its next commit).
func (w *minorWave) tagUnfinished(ctx workflow.Context) {
	evals := make([]int64, len(w.st.Evaluations))
	for i, e := range w.st.Evaluations {
		evals[i] = e.EvaluationID
	}
	tag := wavename.Unfinished(w.in.Name, w.st.Unfinished+1)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{wire.ErrInvalidInput}},
	})
	var res wire.TagResult
	err := workflow.ExecuteActivity(actx, wire.ActivityTagUnfinished, wire.TagInput{
		Collection: w.in.Collection, WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Name: w.in.Name, Tag: tag,
		Major: w.in.Wave, Minor: w.in.Number, Branch: w.in.Branch, Commit: w.st.Commit, Updates: w.in.Updates, Evaluations: evals,
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("unfinished tag not pushed", "tag", tag, "error", errorText(err))
		return
	}
	w.st.Unfinished++
	w.st.UnfinishedTag, w.st.UnfinishedCommit = res.Tag, w.st.Commit
}

func (w *minorWave) summarize(ctx workflow.Context) error {
	if err := workflow.ExecuteActivity(ctx, wire.ActivitySummarize, wire.SummaryInput{MinorWaveID: w.st.MinorWaveID}).Get(ctx, &w.st.Summary); err != nil {
		return err
	}
	w.report(ctx)
	return nil
}

// phase records a new phase: search attribute, audit log, and the major wave's view. On
// waves that record reasons (versionNeedsAttention) a changed reason is recorded too, and
// the Web UI's current details say where the wave stands.
func (w *minorWave) phase(ctx workflow.Context, phase string) {
	changed := w.st.Phase != phase
	reason := ""
	if w.recovers {
		w.st.Phase = phase
		reason = w.reason()
		workflow.SetCurrentDetails(ctx, w.details(reason))
	}
	if !changed && reason == w.st.Reason {
		return
	}
	w.st.Phase, w.st.Reason = phase, reason
	if changed {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet(phase))
	}
	if w.st.MinorWaveID != 0 {
		key := fmt.Sprintf("%s/phase/%d/%s", w.in.Name, w.st.Round, phase)
		if w.recovers {
			key = fmt.Sprintf("%s/phase/%d/%s", w.in.Name, workflow.GetInfo(ctx).GetCurrentHistoryLength(), phase)
		}
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Second})
		_ = workflow.ExecuteLocalActivity(lctx, wire.ActivityRecordState, wire.StateInput{
			MinorWaveID: w.st.MinorWaveID, Wave: w.in.Name, State: phase, Reason: reason, Key: key,
		}).Get(ctx, nil)
	}
	w.report(ctx)
}

// reason says why the minor wave is in its phase and what a person may do next.
func (w *minorWave) reason() string {
	switch w.st.Phase {
	case PhaseNeedsAttention:
		major := strings.TrimSuffix(w.in.Name, fmt.Sprintf("-%d", w.in.Number)) // the tag prefix is the collection's
		return fmt.Sprintf("%s; next: crest wave retry %s [--ref REF], crest wave add %s PACKAGE=REF, or crest wave cancel %s",
			w.st.Attention, w.in.Name, major, major)
	case PhaseWaiting:
		var names []string
		open := 0
		for _, f := range w.st.Summary.Failures {
			if f.Resolution == "" {
				open++
				if len(names) < 5 {
					names = append(names, fmt.Sprintf("%s (%s)", f.Package, f.Status))
				}
			}
		}
		if open > len(names) {
			names = append(names, fmt.Sprintf("and %d more", open-len(names)))
		}
		if open == 0 {
			return "waiting for the policy's next review"
		}
		return fmt.Sprintf("%d %s wait: %s; next: crest wave resolve %s PACKAGE --as wont-fix|cant-fix, or crest wave retry %s PACKAGE --ref FIX",
			open, plural(open, "failure", "failures"), strings.Join(names, ", "), w.in.Name, w.in.Name)
	case PhaseBuilding:
		c := w.st.Summary.Counts
		if c.Total > 0 {
			return fmt.Sprintf("round %d: %d of %d packages settled", w.st.Round, c.Total-c.Pending, c.Total)
		}
		return fmt.Sprintf("round %d", w.st.Round)
	}
	return ""
}

// details is the Web UI's markdown for the minor wave: phase, counts, why, what next.
func (w *minorWave) details(reason string) string {
	c := w.st.Summary.Counts
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · %s", w.in.Name, w.st.Phase)
	if w.st.Paused {
		b.WriteString(" · paused")
	}
	fmt.Fprintf(&b, "\n\n%d packages: %d passed, %d failed, %d test-failed, %d dependency-failed, %d pending; %d resolved",
		c.Total, c.Passed, c.Failed, c.TestFailed, c.DependencyFailed, c.Pending, c.Resolved)
	if reason != "" {
		fmt.Fprintf(&b, "\n\n%s", reason)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// report tells the major wave where this minor wave stands.
func (w *minorWave) report(ctx workflow.Context) {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil {
		return
	}
	_ = workflow.SignalExternalWorkflow(ctx, parent.ID, "", signalMinorStatus, w.status()).Get(ctx, nil)
}

func (w *minorWave) status() MinorStatus {
	s := MinorStatus{Name: w.in.Name, Number: w.in.Number, Phase: w.st.Phase, Commit: w.st.Commit, Round: w.st.Round,
		Paused: w.st.Paused, Summary: w.st.Summary, Updates: w.in.Updates, Requests: len(w.st.Resolves) + len(w.st.Retries),
		Attention: w.st.Attention, Reason: w.st.Reason, Unfinished: w.st.UnfinishedTag}
	for _, f := range w.st.Summary.Failures {
		if f.Resolution != "" {
			continue
		}
		why := cmp.Or(f.Reason, "resolve (wont-fix, cant-fix) or retry with a fix")
		for _, d := range w.st.Decisions {
			if d.Package == f.Package {
				why = d.Reason
			}
		}
		s.Waiting = append(s.Waiting, fmt.Sprintf("%s %s, blocks %d: %s", f.Package, f.Status, f.Dependents, why))
	}
	s.Waiting = append(s.Waiting, w.st.Summary.Blocking...)
	return s
}

func failureOf(s wire.Summary, pkg string) (wire.Failure, bool) {
	for _, f := range s.Failures {
		if f.Package == pkg {
			return f, true
		}
	}
	return wire.Failure{}, false
}

// checkPackage is the one check of a retry a workflow makes by itself.
func checkPackage(pkg string) error {
	if strings.TrimSpace(pkg) == "" {
		return errors.New("package: required")
	}
	return nil
}
