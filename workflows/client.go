package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/wire"
)

// QueueClient sends merge queues their updates from outside a workflow: crest queue
// submit and withdraw, and the intake's activities (it implements
// activities.QueueUpdates; workflows cannot send updates to other workflows). A
// submission starts the queue when it is not running (update-with-start). The queue's
// answers that refuse (an unknown ref, a change no longer waiting) match wire.ErrRefused
// and read as the queue's own words.
type QueueClient struct {
	Client    client.Client
	TaskQueue string
	// Limits and Settings are the queue's when a submission starts it.
	Limits   Limits
	Settings json.RawMessage
}

// queueRefusal is a queue's refusal: its message, matching wire.ErrRefused.
type queueRefusal struct{ msg string }

func (r queueRefusal) Error() string        { return r.msg }
func (r queueRefusal) Is(target error) bool { return target == wire.ErrRefused }

// refused turns the queue's application error (a validator's or a handler's answer) into
// a queueRefusal; any other error is trouble reaching the queue, returned as it is.
func refused(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return queueRefusal{msg: app.Message()}
	}
	return err
}

// SubmitChange sends r to the queue of collection's branch (workflowID; "" means
// QueueWorkflowID) with the Submit update, starting the queue if needed, and waits for the
// change to be recorded. updateID ("" for a new one) makes a retried submission record once.
func (q QueueClient) SubmitChange(ctx context.Context, collection, branch, workflowID, updateID string, r SubmitRequest) (SubmitResult, error) {
	if workflowID == "" {
		workflowID = QueueWorkflowID(collection, branch)
	}
	op := q.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: workflowID, TaskQueue: q.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(SearchCollection.ValueSet(collection), SearchPhase.ValueSet("waiting")),
	}, MergeQueue, MergeQueueInput{Collection: collection, Branch: branch, Settings: q.Settings, Limits: q.Limits})
	h, err := q.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: updateID, UpdateName: UpdateSubmit,
			WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{r}},
	})
	if err != nil {
		return SubmitResult{}, refused(err)
	}
	var res SubmitResult
	if err := h.Get(ctx, &res); err != nil {
		return SubmitResult{}, refused(err)
	}
	return res, nil
}

// Submit implements activities.QueueUpdates.
func (q QueueClient) Submit(ctx context.Context, s wire.QueueSubmission) (wire.QueueSubmitResult, error) {
	res, err := q.SubmitChange(ctx, s.Collection, s.Branch, s.WorkflowID, s.UpdateID,
		SubmitRequest{Ref: s.Ref, Title: s.Title, Labels: s.Labels, By: s.By, Pull: s.Pull})
	return wire.QueueSubmitResult(res), err
}

// Withdraw sends the Withdraw update for change id to the queue of collection's branch
// (workflowID; "" means QueueWorkflowID). It implements activities.QueueUpdates.
func (q QueueClient) Withdraw(ctx context.Context, collection, branch, workflowID string, id int64, reason, by string) error {
	if workflowID == "" {
		workflowID = QueueWorkflowID(collection, branch)
	}
	h, err := q.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: UpdateWithdraw, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{WithdrawRequest{ID: id, Reason: reason, By: by}},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return refused(err)
}

// StartIntake starts the intake of a queue (QueueIntakeWorkflowID) unless it runs, and
// returns its workflow ID.
func (q QueueClient) StartIntake(ctx context.Context, in QueueIntakeInput) (string, error) {
	if in.Queue == "" {
		in.Queue = QueueWorkflowID(in.Collection, in.Branch)
	}
	id := QueueIntakeWorkflowID(in.Queue)
	_, err := q.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: q.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(SearchCollection.ValueSet(in.Collection), SearchPhase.ValueSet("polling")),
	}, QueueIntake, in)
	if err != nil {
		return id, fmt.Errorf("start the intake of %s: %w", in.Queue, err)
	}
	return id, nil
}
