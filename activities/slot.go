package activities

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// slotPoll is how often an idle build slot looks at its round again at first, and
// slotPollMost at most: each poll that finds nothing doubles the wait. Slots in this
// process are woken at once when a build here makes packages ready (roundWakeups); the
// poll finds what builders in other processes recorded, and a stop. Hundreds of idle slots
// polling every second were most of the database's work in a narrow round.
const (
	slotPoll     = 250 * time.Millisecond
	slotPollMost = 4 * time.Second
)

// slotIdleYield ends a slot that found nothing to take for that long (the dispatcher starts
// it again, behind what waits on the builders' queue). A slot holds one of its worker's
// executors while it waits: when a worker died with packages taken, the retried slots that
// hold them queued behind idle slots that were waiting for exactly those packages.
const slotIdleYield = 30 * time.Second

// slotStuckPolls is how many checks in a row may find packages waiting while none is
// ready and nothing is building before a slot calls the round stuck (a defect: once can be
// a take in another slot's uncommitted transaction); slotCheckEvery is how many idle polls
// apart the checks are (counting what is being built scans the round).
const (
	slotStuckPolls = 3
	slotCheckEvery = 10
)

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
	stuck, idle := 0, 0
	idleSince := time.Now()
	poll := slotPoll
	built := false // the last turn built a package
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
		wake, leave := roundWakeups.wait(round) // before the take: a record after it wakes us
		got, err := a.takeInSlot(ctx, store.FrontierTake{WaveID: in.WaveID, MinorWaveID: in.MinorWaveID,
			EvaluationID: in.EvaluationID, System: in.System, Round: in.Round, Max: 1, Token: in.Token(),
			Owner: in.Owner, Slotted: true, Generation: in.Generation, CountBuilding: idle%slotCheckEvery == slotCheckEvery-1},
			!built)
		if err != nil {
			leave()
			return out, err
		}
		out.Blocked += got.Blocked
		if got.Stopped || len(got.Tasks) > 0 || got.Waiting == 0 {
			leave()
		}
		switch {
		case got.Stopped:
			out.Stopped = true
			return out, nil
		case len(got.Tasks) > 0:
			stuck, idle, poll = 0, 0, slotPoll
			pkg := got.Tasks[0].Package
			if err := a.buildInSlot(ctx, in, pkg, &out); err != nil {
				return out, err
			}
			built = true
			// Wake as many idle slots as there are packages ready besides the one this slot
			// takes next: waking all of them sent every idle slot to take at once, in turn,
			// for nothing.
			idleSince = time.Now()
			yield := time.Since(started) >= in.YieldAfter
			if ready, err := a.Store.ReadyCount(ctx, in.MinorWaveID, in.System, in.Round, 256); err == nil {
				if !yield {
					ready--
				}
				roundWakeups.wake(round, ready)
			}
			if yield {
				return out, nil
			}
			continue
		case got.Waiting == 0:
			out.Done = true // everything left is being built by other slots
			return out, nil
		case idle%slotCheckEvery != slotCheckEvery-1: // not counted this time
		case got.Building == 0:
			if stuck++; stuck >= slotStuckPolls {
				leave()
				return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"round %d on %s: packages wait but none is ready and nothing is building", in.Round, in.System),
					wire.ErrRoundStuck, nil)
			}
		default:
			stuck = 0
		}
		idle++
		built = false
		if time.Since(started) >= in.YieldAfter || time.Since(idleSince) >= slotIdleYield {
			leave()
			return out, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
		case <-wake:
			poll = slotPoll
		case <-t.C:
			poll = min(2*poll, slotPollMost)
		}
		t.Stop()
		leave()
	}
}

// takeInSlot takes a package for a slot: when the round has one for it (SlotPrecheck;
// without precheck, as after a build, which mostly makes something ready), in one take
// with the other slots of this process taking at the same moment (takeBatches), else it
// only counts what is left.
func (a *Activities) takeInSlot(ctx context.Context, in store.FrontierTake, precheck bool) (store.FrontierTaken, error) {
	worth := true
	if precheck {
		var stopped bool
		var err error
		if stopped, worth, err = a.Store.SlotPrecheck(ctx, in); err != nil || stopped {
			return store.FrontierTaken{Stopped: stopped}, err
		}
	}
	if worth {
		got, err := takeBatches.take(ctx, in, a.Store.TakeReady)
		if err != nil || got.Stopped || len(got.Tasks) > 0 {
			return got, err
		}
	}
	return a.Store.SlotCounts(ctx, in)
}

// takeBatches gathers the takes of this process's slots: the first slot to take runs one
// take for every slot that asked meanwhile. One at a time, each take of a single package
// paid a transaction, the frontier's lock and the gate's lookups: at 100,000 packages a
// fifth failing, slots waited for each other at 6 takes/s while 20,000 packages were ready.
var takeBatches batcher

// batcher runs batched takes per round, owner and generation.
type batcher struct {
	mu     sync.Mutex
	groups map[string]*takeGroup
}

type takeGroup struct {
	running bool
	waiting []takeAsk
}

type takeAsk struct {
	token string
	reply chan takeReply
}

type takeReply struct {
	got store.FrontierTaken
	err error
}

// take asks for a package for in.Token; the slot that finds no take running runs them,
// for every token that asked, until none is left asking.
func (b *batcher) take(ctx context.Context, in store.FrontierTake, run func(context.Context, store.FrontierTake) (store.FrontierTaken, error)) (store.FrontierTaken, error) {
	key := fmt.Sprintf("%d/%s/%d/%s/%d", in.MinorWaveID, in.System, in.Round, in.Owner, in.Generation)
	ask := takeAsk{token: in.Token, reply: make(chan takeReply, 1)}
	b.mu.Lock()
	if b.groups == nil {
		b.groups = map[string]*takeGroup{}
	}
	g := b.groups[key]
	if g == nil {
		g = &takeGroup{}
		b.groups[key] = g
	}
	g.waiting = append(g.waiting, ask)
	lead := !g.running
	g.running = true
	b.mu.Unlock()
	if lead {
		for {
			b.mu.Lock()
			asks := g.waiting
			g.waiting = nil
			if len(asks) == 0 {
				g.running = false
				delete(b.groups, key)
				b.mu.Unlock()
				break
			}
			b.mu.Unlock()
			batch := in
			batch.Tokens = make([]string, len(asks))
			for i, a := range asks {
				batch.Tokens[i] = a.token
			}
			got, err := run(context.WithoutCancel(ctx), batch) // the others wait for it too
			for i, a := range asks {
				r := takeReply{got: store.FrontierTaken{Stopped: got.Stopped}, err: err}
				if i == 0 {
					r.got.Blocked = got.Blocked // counted once, by one slot
				}
				for i, tk := range got.Tokens {
					if tk == a.token {
						r.got.Tasks = append(r.got.Tasks, got.Tasks[i])
					}
				}
				a.reply <- r
			}
		}
	}
	select {
	case r := <-ask.reply:
		return r.got, r.err
	case <-ctx.Done():
		// What the take gave this slot stays taken by its token: the slot's retry gets it.
		return store.FrontierTaken{}, ctx.Err()
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
		Key:         wire.BuildKey(in.KeyPrefix, in.System, pkg, in.Round),
		MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID, System: in.System,
		Package: pkg, Collection: in.Collection,
	})
	switch wire.BuildOutcome(err) {
	case wire.OutcomePassed:
		out.Passed++
	case wire.OutcomeFailed:
		out.Failed++
	case wire.OutcomeTestFailed:
		out.TestFailed++
	default:
		return err
	}
	return nil
}

func roundKey(minorWaveID int64, system string, round int) string {
	return fmt.Sprintf("%d/%s/%d", minorWaveID, system, round)
}

// roundWakeups wakes idle slots of a round in this process when a build of the round
// recorded here made packages ready, as many as were. Process-wide, since every worker of
// the process (and every Activities value) shares the rounds.
var roundWakeups wakeups

// wakeups queues waiters per key, first come first woken.
type wakeups struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// wait queues a waiter on key: the channel closes when a wake reaches it; leave takes it
// off the queue (idempotent), which a waiter that stopped waiting must do.
func (w *wakeups) wait(key string) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[string][]chan struct{}{}
	}
	c := make(chan struct{})
	w.waiters[key] = append(w.waiters[key], c)
	return c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		q := w.waiters[key]
		if i := slices.Index(q, c); i >= 0 {
			q = slices.Delete(q, i, i+1)
		}
		if len(q) == 0 {
			delete(w.waiters, key)
		} else {
			w.waiters[key] = q
		}
	}
}

// wake wakes the first n waiters on key.
func (w *wakeups) wake(key string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.waiters[key]
	n = max(min(n, len(q)), 0)
	for _, c := range q[:n] {
		close(c)
	}
	if q = q[n:]; len(q) == 0 {
		delete(w.waiters, key)
	} else {
		w.waiters[key] = q
	}
}
