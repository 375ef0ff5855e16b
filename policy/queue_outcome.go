package policy

// BatchAction is what a merge queue does with a batch whose bisection finished. The values
// are stable: they are recorded.
type BatchAction string

// The batch actions.
const (
	// BatchEject: a change is at fault; eject it with the evidence and re-queue the rest.
	BatchEject BatchAction = "eject"
	// BatchMerge: no change is at fault and every failure is pre-existing (it fails on the
	// head too): the candidate breaks nothing the head does not, so the branch moves to it
	// and the failures are reported, not held against anyone.
	BatchMerge BatchAction = "merge"
	// BatchRequeue: no change is at fault but a failure was flaky: the candidate cannot be
	// trusted green, so the batch goes back to the queue to be built again.
	BatchRequeue BatchAction = "requeue"
)

// BatchOutcome is what to do with a bisected batch, with its reason.
type BatchOutcome struct {
	Action BatchAction `json:"action"`
	Reason string      `json:"reason"`
}

// AfterBisection decides what a finished bisection's verdict does to its batch: eject the
// culprit; merge when every failure is pre-existing; otherwise (a flaky failure) re-queue.
// A verdict that is not done is re-queued: nothing merges on an unfinished search.
func AfterBisection(v BisectVerdict) BatchOutcome {
	switch {
	case !v.Done:
		return BatchOutcome{Action: BatchRequeue, Reason: "the bisection did not finish: " + v.Reason}
	case v.Culprit != "":
		return BatchOutcome{Action: BatchEject, Reason: v.Reason}
	case len(v.Flaky) == 0 && len(v.Preexisting) > 0:
		return BatchOutcome{Action: BatchMerge, Reason: v.Reason + "; the candidate fails nothing the head does not, so it merges"}
	}
	return BatchOutcome{Action: BatchRequeue, Reason: v.Reason}
}
