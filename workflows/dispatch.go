package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
)

// BuildSetInput is one dependency-driven build round of a minor wave on one system.
type BuildSetInput struct {
	wire.RoundInput
	Collection string `json:"collection"`
	// KeyPrefix makes build idempotency keys unique per minor wave and round (the same keys
	// as BuildShard's).
	KeyPrefix string `json:"key_prefix"`
	Limits    Limits `json:"limits"`
	Paused    bool   `json:"paused,omitempty"`
	// Resume carries the counts across continue-as-new.
	Resume *BuildSetResult `json:"resume,omitempty"`
	// Priority orders its build slots against other rounds' on the builders' queue
	// (Temporal's priority key, policy.BuildPriority: 1 first, 5 last; 0 the default, 3).
	// A slot holds its builder until it yields, so a higher priority takes effect within
	// Limits.SlotYield, or 30 s for an idle slot.
	Priority int `json:"priority,omitempty"`
}

// BuildSetResult tallies a round: counts only, whatever its size (the packages are in
// Postgres).
type BuildSetResult struct {
	Passed     int `json:"passed"`
	Failed     int `json:"failed"`
	TestFailed int `json:"test_failed"`
	Blocked    int `json:"blocked"`
	// Takes numbers the TakeReady calls of this dispatcher, across continue-as-new.
	Takes int `json:"takes"`
	// Generation numbers the build slots' generations (slot dispatch): each pause,
	// continue-as-new or restart opens the next.
	Generation int `json:"generation,omitempty"`
}

// BuildSet builds a round's packages on one system, each as soon as its dependencies in
// the round are built: it takes ready packages from the round's frontier in Postgres
// (TakeReady, highest remaining critical path first) for its free build slots, a sliding
// window as wide as the live slots of the system's builders (Limits.Builds while none has
// announced itself), and takes more whenever one finishes. Recording a
// build (BuildPackage) updates the frontier, and marks what a failure blocks
// dependency-failed, in the same transaction. It pauses and resumes like a shard, stops
// taking on Cancel, and continues as new when its history grows, after its builds in
// flight finished.
func BuildSet(ctx workflow.Context, in BuildSetInput) (BuildSetResult, error) {
	var out BuildSetResult
	if in.Resume != nil {
		out = *in.Resume
	}
	limits := in.Limits.withDefaults()
	paused, cancelled := in.Paused, false
	pauses := workflow.GetSignalChannel(ctx, signalPause)
	cancels := workflow.GetSignalChannel(ctx, SignalCancel)
	owner := workflow.GetInfo(ctx).FirstRunID
	fresh := in.Resume == nil
	batched := workflow.GetVersion(ctx, versionBatchedTakes, workflow.DefaultVersion, 1) == 1
	fitSlots := workflow.GetVersion(ctx, versionBuildSlots, workflow.DefaultVersion, 1) == 1
	if workflow.GetVersion(ctx, versionSlotActivities, workflow.DefaultVersion, 1) == 1 {
		return buildSetInSlots(ctx, in, limits, out)
	}
	window := limits.Builds // until a take reports the builders' slots

	buildCtx := building(ctx, limits, in.System)
	sel := workflow.NewSelector(ctx)
	more := true // something may be ready: a build finished since the last take came back short
	sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &paused); more = true })
	sel.AddReceive(cancels, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); cancelled = true })
	var firstErr error
	inFlight := 0
	draining := false
	for {
		if !draining && historyFull(ctx, limits.HistoryEvents) {
			draining = true // a quiet point: no build in flight
		}
		if draining && inFlight == 0 && firstErr == nil && !cancelled {
			for pauses.ReceiveAsync(&paused) {
			}
			if cancels.ReceiveAsync(nil) {
				cancelled = true
				continue
			}
			next := in
			res := out
			next.Resume, next.Paused = &res, paused
			return out, workflow.NewContinueAsNewError(ctx, BuildSet, next)
		}
		if !paused && !cancelled && !draining && firstErr == nil && more && inFlight < window {
			out.Takes++
			take := wire.TakeReadyInput{WaveID: in.WaveID, MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID,
				System: in.System, Round: in.Round, Max: window - inFlight,
				Token: fmt.Sprintf("%s/%d", owner, out.Takes), Owner: owner, Reset: fresh,
				FitCapacity: fitSlots, InFlight: inFlight}
			fresh = false
			var ready wire.ReadyTasks
			if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityTakeReady, take).Get(ctx, &ready); err != nil {
				firstErr = err
				continue
			}
			out.Blocked += ready.Blocked
			if fitSlots && ready.Window > 0 {
				window, take.Max = ready.Window, max(ready.Window-inFlight, 0)
			}
			// A short take means nothing else is ready until a build finishes (blocked
			// packages took places in it too).
			more = len(ready.Packages)+ready.Blocked >= take.Max
			for _, pkg := range ready.Packages {
				inFlight++
				f := workflow.ExecuteActivity(buildCtx, wire.ActivityBuildPackage, wire.BuildInput{
					Key:         wire.BuildKey(in.KeyPrefix, in.System, pkg, in.Round),
					MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID, System: in.System,
					Package: pkg, Collection: in.Collection,
				})
				sel.AddFuture(f, func(f workflow.Future) {
					inFlight--
					more = true
					err := f.Get(ctx, nil)
					switch wire.BuildOutcome(err) {
					case wire.OutcomePassed:
						out.Passed++
					case wire.OutcomeFailed:
						out.Failed++
					case wire.OutcomeTestFailed:
						out.TestFailed++
					default:
						if firstErr == nil {
							firstErr = fmt.Errorf("build %s: %w", pkg, err)
						}
					}
				})
			}
			if len(ready.Packages) == 0 && inFlight == 0 {
				if ready.Waiting > 0 {
					return out, fmt.Errorf("round %d on %s: %d packages wait but none is ready and nothing is building", in.Round, in.System, ready.Waiting)
				}
				return out, nil // every package of the round is final
			}
			continue
		}
		if inFlight == 0 && (cancelled || firstErr != nil) {
			return out, firstErr
		}
		sel.Select(ctx) // a build finished, or a pause/resume/cancel arrived
		for batched && sel.HasPending() {
			sel.Select(ctx) // every build that finished meanwhile: one take fills all their slots
		}
	}
}

// buildSetInSlots is BuildSet with its builds run by build slots: BuildSlot activities on the
// system's builders, each taking ready packages from the frontier, building and recording
// them one after another, so that no build waits for a workflow task or a take of the
// dispatcher's, and continue-as-new never waits for the builds in flight of a whole window.
// The dispatcher opens as many slots as the builders have (Limits.Builds while none has
// announced itself), at most one per package waiting, starts each again when it yields, and
// stops them (StopSlots) to pause, to cancel or to continue as new; each stop opens a new
// generation, whose first act gives back what earlier ones took and did not record.
func buildSetInSlots(ctx workflow.Context, in BuildSetInput, limits Limits, out BuildSetResult) (BuildSetResult, error) {
	owner := workflow.GetInfo(ctx).FirstRunID
	paused, cancelled := in.Paused, false
	pauses := workflow.GetSignalChannel(ctx, signalPause)
	cancels := workflow.GetSignalChannel(ctx, SignalCancel)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &paused) })
	sel.AddReceive(cancels, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); cancelled = true })
	slotCtx := prioritized(slotting(ctx, limits, in.System), in.Priority)
	for {
		for paused && !cancelled {
			sel.Select(ctx)
		}
		if cancelled {
			return out, nil
		}
		gen := out.Generation
		var plan wire.SlotPlan
		if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityOpenSlots, wire.OpenSlotsInput{
			MinorWaveID: in.MinorWaveID, System: in.System, Round: in.Round,
			Owner: fmt.Sprintf("%s/g%d", owner, gen), Reset: true,
		}).Get(ctx, &plan); err != nil {
			return out, err
		}
		if plan.Waiting == 0 {
			return out, nil // every package of the round is final
		}
		slots := plan.Slots
		if slots == 0 {
			slots = limits.Builds
		}
		slots = min(slots, plan.Waiting)
		running, stopping, draining := 0, false, false
		var firstErr error
		var start func(slot int)
		start = func(slot int) {
			running++
			f := workflow.ExecuteActivity(slotCtx, wire.ActivityBuildSlot, wire.SlotInput{
				WaveID: in.WaveID, MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID, System: in.System,
				Round: in.Round, Collection: in.Collection, KeyPrefix: in.KeyPrefix, Owner: owner, Generation: gen,
				Slot: slot, YieldAfter: time.Duration(limits.SlotYield), BuildTimeout: time.Duration(limits.BuildTimeout),
			})
			sel.AddFuture(f, func(f workflow.Future) {
				running--
				var res wire.SlotResult
				err := f.Get(ctx, &res)
				out.Passed += res.Passed
				out.Failed += res.Failed
				out.TestFailed += res.TestFailed
				out.Blocked += res.Blocked
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = fmt.Errorf("build slot %d on %s: %w", slot, in.System, err)
					}
				case !res.Done && !res.Stopped && !stopping:
					start(slot) // it yielded: its turn again
				}
			})
		}
		for i := range slots {
			start(i)
		}
		for running > 0 {
			if !stopping && !draining && historyFull(ctx, limits.HistoryEvents) {
				draining = true
			}
			if !stopping && (paused || cancelled || draining || firstErr != nil) {
				stopping = true
				err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityStopSlots,
					wire.StopSlotsInput{Owner: owner, Generation: gen}).Get(ctx, nil)
				if err != nil && firstErr == nil && ctx.Err() == nil {
					firstErr = err
				}
				continue
			}
			sel.Select(ctx)
		}
		out.Generation = gen + 1
		switch {
		case firstErr != nil:
			return out, firstErr
		case cancelled:
			return out, nil
		case draining:
			for pauses.ReceiveAsync(&paused) {
			}
			if cancels.ReceiveAsync(nil) {
				return out, nil
			}
			next, res := in, out
			next.Resume, next.Paused = &res, paused
			return out, workflow.NewContinueAsNewError(ctx, BuildSet, next)
		}
		// Paused, or every slot found nothing left to take: the next generation opens after
		// a resume, or finds the round final.
	}
}
