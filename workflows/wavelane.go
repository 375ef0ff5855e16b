package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/policy"
)

// WaveLaneBatchInput is the first stage of a wave-lane batch: its changes, built aside on
// the branch head for the queue QueueID, which started it.
type WaveLaneBatchInput struct {
	// Queue is the queue's own input (its collection, branch, settings and limits; no
	// state).
	Queue   MergeQueueInput `json:"queue"`
	QueueID string          `json:"queue_id"`
	// Key is the batch's key (batchKey), given by the queue: its records and children are
	// named as the queue's own batches are.
	Key     string         `json:"key"`
	Changes []QueuedChange `json:"changes"`
}

// WaveLaneOutcome is how a wave-lane batch built aside ended (the WaveBuilt signal): the
// changes that built green, to be merged as one unit in this order; the changes back in
// the wave lane (the rest after an ejection, or all after infrastructure trouble); how
// many were ejected.
type WaveLaneOutcome struct {
	Key     string         `json:"key"`
	Built   []QueuedChange `json:"built,omitempty"`
	Requeue []QueuedChange `json:"requeue,omitempty"`
	Ejected int            `json:"ejected,omitempty"`
	Why     string         `json:"why,omitempty"`
}

// ChangeIDs are the unit's changes, in order.
func (u WaveUnit) ChangeIDs() []int64 { return ids(u.Changes) }

// cutWave starts the next wave-lane batch when policy.CutWave says so (holding the
// mutex): its changes leave the waiting list for a WaveLaneBatch child, which outlives a
// continue-as-new of the queue (it is abandoned, not cancelled, when this run closes) and
// signals WaveBuilt to whichever run is current when it ends. It returns when to look
// again when the batch is still collecting.
func (q *mergeQueue) cutWave(ctx workflow.Context, queued []policy.Queued) time.Time {
	d := policy.CutWave(queued, q.st.Wave != nil, workflow.Now(ctx), q.settings)
	if len(d.Changes) == 0 {
		return d.Until
	}
	batch := q.takeWaiting(d.Changes)
	q.st.Batches++
	key := batchKey(ctx, q.st.Batches)
	in := q.in
	in.State = nil
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: q.batchBuildKey(key) + "/aside", ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, WaveLaneBatch, WaveLaneBatchInput{Queue: in,
		QueueID: workflow.GetInfo(ctx).WorkflowExecution.ID, Key: key, Changes: batch})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		// Not started: the changes wait for the next batch decision.
		q.st.Waiting = append(batch, q.st.Waiting...)
		q.st.Why = fmt.Sprintf("batch %s of the wave lane did not start: %s", key, errorText(err))
		return workflow.Now(ctx).Add(retryPause)
	}
	q.st.Wave = &BatchStatus{Key: key, Lane: policy.LaneWave, Changes: ids(batch), Phase: "building aside"}
	return time.Time{}
}

// receiveWaves takes in the outcomes of wave-lane batches that ended (holding the mutex,
// or with every handler finished): the green ones become a unit ready to merge, the rest
// go back to the front of the queue.
func (q *mergeQueue) receiveWaves(ctx workflow.Context) {
	var o WaveLaneOutcome
	for q.waves.ReceiveAsync(&o) {
		if q.st.Wave == nil || q.st.Wave.Key != o.Key {
			continue // a repeated signal
		}
		q.st.Wave = nil
		q.st.Ejected += o.Ejected
		if len(o.Built) > 0 {
			q.st.WaveReady = append(q.st.WaveReady, WaveUnit{Key: o.Key, Changes: o.Built})
		}
		q.st.Waiting = append(o.Requeue, q.st.Waiting...)
		o = WaveLaneOutcome{}
	}
}

// WaveLaneBatch is the first stage of the two-stage wave lane: the queue's mass rebuilds
// merged together on the branch head into a candidate, built by the build engine as any
// batch is, bisected when red (the culprit ejected with its evidence), and, when green,
// recorded built instead of merged. It tells the queue how it ended (SignalWaveBuilt) and
// never fails for infrastructure trouble: its changes then go back to the wave lane after
// a pause.
func WaveLaneBatch(ctx workflow.Context, in WaveLaneBatchInput) error {
	q := &mergeQueue{in: in.Queue, aside: true, waveLane: policy.WaveLaneBuild}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (QueueStatus, error) {
		return QueueStatus{Collection: q.in.Collection, Branch: q.in.Branch, QueueState: q.st}, nil
	}); err != nil {
		return err
	}
	out := WaveLaneOutcome{Key: in.Key}
	eff, err := effectiveSettings(in.Queue.Settings)
	if err == nil {
		q.settings, q.limits = eff, in.Queue.Limits.withDefaults()
		err = q.loadSystem(ctx)
	}
	if err == nil {
		out.Requeue, err = q.buildBatch(ctx, in.Key, policy.LaneWave, in.Changes)
		out.Built, out.Ejected = q.built, q.st.Ejected
		out.Why = q.st.Why
	}
	if err != nil {
		if temporal.IsCanceledError(err) || ctx.Err() != nil {
			return err
		}
		out = WaveLaneOutcome{Key: in.Key, Requeue: in.Changes,
			Why: fmt.Sprintf("%s: %s; back in the wave lane in %s", in.Key, errorText(err), retryPause)}
		if err := workflow.Sleep(ctx, retryPause); err != nil {
			return err
		}
	}
	err = workflow.SignalExternalWorkflow(ctx, in.QueueID, "", SignalWaveBuilt, out).Get(ctx, nil)
	var gone *temporal.UnknownExternalWorkflowExecutionError
	if errors.As(err, &gone) {
		// The queue is gone (terminated, or ended): nobody waits for the outcome, which
		// Postgres holds.
		return nil
	}
	return err
}
