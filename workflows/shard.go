package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
)

// ShardInput is one shard of a build round: at most Limits.ShardSize packages of one
// dependency layer.
type ShardInput struct {
	wire.ShardInput
	Collection string `json:"collection"`
	// KeyPrefix makes build idempotency keys unique per minor wave and round.
	KeyPrefix string `json:"key_prefix"`
	Limits    Limits `json:"limits"`
	Paused    bool   `json:"paused,omitempty"`
}

// ShardResult tallies a shard.
type ShardResult struct {
	Passed     int      `json:"passed"`
	Failed     []string `json:"failed,omitempty"`      // build failed
	TestFailed []string `json:"test_failed,omitempty"` // built, tests failed
	Blocked    int      `json:"blocked"`               // dependency-failed, not built
}

// BuildShard builds the packages of one shard, a bounded number at a time, on the builders
// of the shard's system. Packages whose dependencies failed are marked dependency-failed
// instead. Its history stays small (about six events per package) because the shard is
// small; fan-out beyond that is the minor wave's job.
func BuildShard(ctx workflow.Context, in ShardInput) (ShardResult, error) {
	var out ShardResult
	limits := in.Limits.withDefaults()
	paused := in.Paused
	pauses := workflow.GetSignalChannel(ctx, signalPause)

	var tasks wire.ShardTasks
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityTakeShard, in.ShardInput).Get(ctx, &tasks); err != nil {
		return out, err
	}
	out.Blocked = tasks.Blocked

	buildCtx := building(ctx, limits, in.System)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &paused) })
	var firstErr error
	inFlight, next := 0, 0
	for next < len(tasks.Packages) || inFlight > 0 {
		for !paused && inFlight < limits.BuildsPerShard && next < len(tasks.Packages) {
			pkg := tasks.Packages[next]
			next++
			inFlight++
			f := workflow.ExecuteActivity(buildCtx, wire.ActivityBuildPackage, wire.BuildInput{
				Key:         wire.BuildKey(in.KeyPrefix, in.System, pkg, in.Round),
				MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID, System: in.System,
				Package: pkg, Collection: in.Collection,
			})
			sel.AddFuture(f, func(f workflow.Future) {
				inFlight--
				err := f.Get(ctx, nil)
				switch wire.BuildOutcome(err) {
				case wire.OutcomePassed:
					out.Passed++
				case wire.OutcomeFailed:
					out.Failed = append(out.Failed, pkg)
				case wire.OutcomeTestFailed:
					out.TestFailed = append(out.TestFailed, pkg)
				default:
					if firstErr == nil {
						firstErr = fmt.Errorf("build %s: %w", pkg, err)
					}
				}
			})
		}
		sel.Select(ctx) // a build finished, or a pause/resume arrived
	}
	return out, firstErr
}
