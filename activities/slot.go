package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// slotPoll is how often an idle build slot looks at its round again. Slots in this process
// are woken at once when a build here is recorded (roundWakeups); the poll finds what
// builders in other processes recorded, and a stop.
const slotPoll = time.Second

// slotStuckPolls is how many polls in a row may find packages waiting while none is ready
// and nothing is building before a slot calls the round stuck: once can be a take in
// another slot's uncommitted transaction.
const slotStuckPolls = 3

// OpenSlots prepares a dependency-driven round for a dispatcher's build slots (see
// store.OpenSlots) and reports what is left and how many slots the system's builders have.
func (a *Activities) OpenSlots(ctx context.Context, in wire.OpenSlotsInput) (wire.SlotPlan, error) {
	waiting, building, err := a.Store.OpenSlots(ctx, in.MinorWaveID, in.System, in.Round, in.Owner, in.Reset)
	if err != nil {
		return wire.SlotPlan{}, err
	}
	slots, err := a.Store.BuildSlots(ctx, in.System, store.BuilderFresh)
	return wire.SlotPlan{Waiting: waiting, Building: building, Slots: slots}, err
}

// StopSlots stops a generation of a dispatcher's build slots (see store.StopSlots).
func (a *Activities) StopSlots(ctx context.Context, in wire.StopSlotsInput) error {
	return a.Store.StopSlots(ctx, in.Owner, in.Generation)
}

// BuildSlot is one build slot of a dependency-driven round, on a builder: it takes the
// round's ready package of highest priority, builds and records it (BuildPackage, same
// idempotency keys), and takes the next, without a round trip through the dispatching
// workflow between builds. A slot retried after its worker died builds again what it had
// taken and not recorded (the take token is the slot's). It ends when the round has
// nothing left to take, when its generation is stopped (pause, cancel, continue-as-new),
// or at the first package boundary after YieldAfter. A build failure is recorded and
// counted; anything else fails the attempt, to be retried.
func (a *Activities) BuildSlot(ctx context.Context, in wire.SlotInput) (wire.SlotResult, error) {
	var out wire.SlotResult
	started := time.Now()
	round := roundKey(in.MinorWaveID, in.System, in.Round)
	stuck := 0
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		// A beat per package or poll: builds shorter than their own first beat
		// (keepAliveIfSlow) would otherwise leave a busy slot silent. The SDK sends at most
		// one per throttle interval.
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, n)
		}
		wake := roundWakeups.wait(round) // before the take: a record after it wakes us
		got, err := a.Store.TakeReady(ctx, store.FrontierTake{WaveID: in.WaveID, MinorWaveID: in.MinorWaveID,
			EvaluationID: in.EvaluationID, System: in.System, Round: in.Round, Max: 1, Token: in.Token(),
			Owner: in.Owner, Slotted: true, Generation: in.Generation})
		if err != nil {
			return out, err
		}
		out.Blocked += got.Blocked
		switch {
		case got.Stopped:
			out.Stopped = true
			return out, nil
		case len(got.Tasks) > 0:
			stuck = 0
			pkg := got.Tasks[0].Package
			if err := a.buildInSlot(ctx, in, pkg, &out); err != nil {
				return out, err
			}
			roundWakeups.wake(round)
			if time.Since(started) >= in.YieldAfter {
				return out, nil
			}
			continue
		case got.Waiting == 0:
			out.Done = true // everything left is being built by other slots
			return out, nil
		case got.Building == 0:
			if stuck++; stuck >= slotStuckPolls {
				return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"round %d on %s: %d packages wait but none is ready and nothing is building", in.Round, in.System, got.Waiting),
					wire.ErrRoundStuck, nil)
			}
		default:
			stuck = 0
		}
		if time.Since(started) >= in.YieldAfter {
			return out, nil
		}
		t := time.NewTimer(slotPoll)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// buildInSlot builds and records one package a slot took, counting its outcome.
func (a *Activities) buildInSlot(ctx context.Context, in wire.SlotInput, pkg string, out *wire.SlotResult) error {
	bctx := ctx
	if in.BuildTimeout > 0 {
		var cancel context.CancelFunc
		bctx, cancel = context.WithTimeout(ctx, in.BuildTimeout)
		defer cancel()
	}
	_, err := a.BuildPackage(bctx, wire.BuildInput{
		Key:         fmt.Sprintf("%s/%s/%s/r%d", in.KeyPrefix, in.System, pkg, in.Round),
		MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID, System: in.System,
		Package: pkg, Collection: in.Collection,
	})
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		out.Passed++
	case errors.As(err, &app) && app.Type() == wire.ErrBuildFailed:
		out.Failed++
	case errors.As(err, &app) && app.Type() == wire.ErrTestFailed:
		out.TestFailed++
	default:
		return err
	}
	return nil
}

func roundKey(minorWaveID int64, system string, round int) string {
	return fmt.Sprintf("%d/%s/%d", minorWaveID, system, round)
}

// roundWakeups wakes the idle slots of a round in this process when a build of the round is
// recorded here: its dependents may be ready. Process-wide, since every worker of the
// process (and every Activities value) shares the rounds.
var roundWakeups wakeups

// wakeups is a broadcast per key: wait returns a channel that the next wake closes.
type wakeups struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (w *wakeups) wait(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = map[string]chan struct{}{}
	}
	c, ok := w.ch[key]
	if !ok {
		c = make(chan struct{})
		w.ch[key] = c
	}
	return c
}

func (w *wakeups) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.ch[key]; ok {
		close(c)
		delete(w.ch, key)
	}
}
