package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names the raw workflows and activity are registered under.
const (
	RawWaveName  = "CrestBenchRawWave"
	RawShardName = "CrestBenchRawShard"
	NoopName     = "CrestBenchNoop"
)

// RawInput runs Activities no-op activities shaped like a build round without its layers:
// child workflows of ShardSize activities, Shards at a time, InFlight activities in flight in
// each, on Queue, with the activity options of builds.
type RawInput struct {
	Activities       int           `json:"activities"`
	ShardSize        int           `json:"shard_size"`
	Shards           int           `json:"shards"`
	InFlight         int           `json:"in_flight"`
	Queue            string        `json:"queue"`
	BuildTimeout     time.Duration `json:"build_timeout"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
}

// rawShardInput is one child of RawWave.
type rawShardInput struct {
	RawInput
	Shard int `json:"shard"`
	Count int `json:"count"`
}

// RawTask is a no-op activity's input, about the size of a BuildInput.
type RawTask struct {
	Key string `json:"key"`
}

// RawWave fans out like MinorWave's buildLayer, over one layer holding everything.
func RawWave(ctx workflow.Context, in RawInput) error {
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	shards := (in.Activities + in.ShardSize - 1) / in.ShardSize
	sel := workflow.NewSelector(ctx)
	var firstErr error
	running, next := 0, 0
	for next < shards || running > 0 {
		for running < in.Shards && next < shards {
			shard := next
			next++
			running++
			count := min(in.ShardSize, in.Activities-shard*in.ShardSize)
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:        fmt.Sprintf("%s/s%04d", parent, shard),
				ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
			})
			f := workflow.ExecuteChildWorkflow(cctx, RawShardName, rawShardInput{RawInput: in, Shard: shard, Count: count})
			sel.AddFuture(f, func(f workflow.Future) {
				running--
				if err := f.Get(ctx, nil); err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		sel.Select(ctx)
	}
	return firstErr
}

// rawShard runs its activities like BuildShard, without TakeShard and bookkeeping.
func rawShard(ctx workflow.Context, in rawShardInput) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           in.Queue,
		StartToCloseTimeout: in.BuildTimeout,
		HeartbeatTimeout:    in.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 10,
		},
	})
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	sel := workflow.NewSelector(ctx)
	var firstErr error
	inFlight, next := 0, 0
	for next < in.Count || inFlight > 0 {
		for inFlight < in.InFlight && next < in.Count {
			f := workflow.ExecuteActivity(actx, NoopName, RawTask{Key: fmt.Sprintf("%s/x86_64-linux/p%06d/r0", parent, next)})
			next++
			inFlight++
			sel.AddFuture(f, func(f workflow.Future) {
				inFlight--
				if err := f.Get(ctx, nil); err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		sel.Select(ctx)
	}
	return firstErr
}

// noop is the raw activity: it counts, nothing else.
type noop struct{ done *atomic.Int64 }

func (n noop) run(context.Context, RawTask) error {
	n.done.Add(1)
	return nil
}

func registerRawWorkflows(w worker.Worker) {
	w.RegisterWorkflowWithOptions(RawWave, workflow.RegisterOptions{Name: RawWaveName})
	w.RegisterWorkflowWithOptions(rawShard, workflow.RegisterOptions{Name: RawShardName})
}

func registerRawActivity(w worker.Worker, done *atomic.Int64) {
	w.RegisterActivityWithOptions(noop{done}.run, activity.RegisterOptions{Name: NoopName})
}
