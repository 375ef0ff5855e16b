package wire

import (
	"encoding/json"
	"errors"

	"github.com/crestwaves/crest/policy"
)

// Activity names of the merge queue (see ActivityNames).
const (
	ActivityQueueSubmit       = "QueueSubmit"       // QueueSubmitInput → QueueSubmitResult
	ActivityQueueWithdraw     = "QueueWithdraw"     // QueueWithdrawInput → error only
	ActivityQueueLane         = "QueueLane"         // QueueLaneInput → QueueLaneResult
	ActivityQueueCandidate    = "QueueCandidate"    // QueueCandidateInput → QueueCandidateResult
	ActivityQueueStartBatch   = "QueueStartBatch"   // QueueBatchInput → the batch's ID
	ActivityQueuePrepareBuild = "QueuePrepareBuild" // QueueBuildInput → QueueBuildLayout
	ActivityQueueProbeDone    = "QueueProbeDone"    // QueueProbeInput → the probe's failed packages
	ActivityQueueFastForward  = "QueueFastForward"  // QueueFastForwardInput → error only
	ActivityQueueFinishBatch  = "QueueFinishBatch"  // QueueFinishInput → error only

	// The intake of pull requests and the reports to authors (the QueueIntake workflow).
	ActivityQueuePulls        = "QueuePulls"        // QueuePullsInput → QueuePullsResult
	ActivityQueueSubmitPull   = "QueueSubmitPull"   // QueueSubmitPullInput → QueueSubmitPullResult
	ActivityQueueWithdrawPull = "QueueWithdrawPull" // QueueWithdrawPullInput → the refusal ("" withdrawn)
	ActivityQueueReport       = "QueueReport"       // QueueReportInput → QueueReportResult
)

// ErrRefused is what a merge queue's update answered when it refused (an unknown ref, a
// change no longer waiting), as opposed to not being reached.
var ErrRefused = errors.New("refused by the merge queue")

// ErrBranchMoved is the error type of a fast-forward refused because the target branch
// moved since the candidate was made on it: the batch is made again on the new head.
const ErrBranchMoved = "BranchMoved"

// QueueSubmitInput is an approved change as submitted to a merge queue.
type QueueSubmitInput struct {
	// Key makes the submission idempotent (the update's ID).
	Key        string   `json:"key"`
	Collection string   `json:"collection"`
	Branch     string   `json:"branch"`
	Ref        string   `json:"ref"`
	Title      string   `json:"title,omitempty"`
	Labels     []string `json:"labels,omitempty"`
	By         string   `json:"by,omitempty"`
	// Pull is the pull request the change is, when it is one: Ref is then its head ref
	// (refs/pull/N/head) and the commit queued is Pull.Head, what was approved.
	Pull *PullRequest `json:"pull,omitempty"`
}

// PullRequest names the pull request a change came from: where its results go and the
// head commit that was approved.
type PullRequest struct {
	Repo   string `json:"repo"`   // "owner/name"
	Number int64  `json:"number"` // > 0
	Head   string `json:"head"`   // the approved head commit
	URL    string `json:"url,omitempty"`
}

// QueueSubmission is a change sent to a merge queue's Submit update from outside a
// workflow (the intake's activity), as crest queue submit sends it.
type QueueSubmission struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	// WorkflowID is the queue's workflow (default: workflows.QueueWorkflowID).
	WorkflowID string `json:"workflow_id,omitempty"`
	// UpdateID makes the submission idempotent: the queue records it once.
	UpdateID string       `json:"update_id,omitempty"`
	Ref      string       `json:"ref"`
	Title    string       `json:"title,omitempty"`
	Labels   []string     `json:"labels,omitempty"`
	By       string       `json:"by,omitempty"`
	Pull     *PullRequest `json:"pull,omitempty"`
}

// QueueSubmitResult is the recorded change: its ID and the commit its ref named.
type QueueSubmitResult struct {
	ID     int64  `json:"id"`
	Commit string `json:"commit"`
}

// QueueWithdrawInput takes a queued change out of its queue.
type QueueWithdrawInput struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
}

// QueueLaneInput asks for the lane of a change: its rebuild set against the branch head,
// then policy.ChooseLane.
type QueueLaneInput struct {
	Collection string   `json:"collection"`
	Branch     string   `json:"branch"`
	ID         int64    `json:"id"`
	Commit     string   `json:"commit"`
	Labels     []string `json:"labels,omitempty"`
	// Settings are the queue's (policy.QueueSettings as JSON).
	Settings json.RawMessage `json:"settings,omitempty"`
	// WaveLane is what the queue does with a wave-lane change (policy.WaveLane); "" is
	// hand-off, what queues did before the two-stage wave lane.
	WaveLane policy.WaveLane `json:"wave_lane,omitempty"`
}

// QueueLaneResult is the lane policy chose, or Conflict when the change does not merge
// onto the head.
type QueueLaneResult struct {
	Lane     policy.Lane `json:"lane,omitempty"`
	Reason   string      `json:"reason"`
	Rebuilds int         `json:"rebuilds"`
	Head     string      `json:"head"`
	Conflict bool        `json:"conflict,omitempty"`
}

// QueueRef is a queued change as a candidate merges it: the commit its ref named when it
// was submitted, which is what was approved.
type QueueRef struct {
	ID     int64  `json:"id"`
	Commit string `json:"commit"`
}

// QueueCandidateInput makes a candidate commit: Base (the branch's current head when
// empty) with Changes merged in order, on a branch of its own named after Key.
type QueueCandidateInput struct {
	Collection string     `json:"collection"`
	Branch     string     `json:"branch"`
	Key        string     `json:"key"`
	Base       string     `json:"base,omitempty"`
	Changes    []QueueRef `json:"changes"`
}

// QueueCandidateResult is the candidate commit and the base it was made on; Conflict names
// a change that does not merge (nothing is built then).
type QueueCandidateResult struct {
	Base     string `json:"base"`
	Commit   string `json:"commit"`
	Conflict int64  `json:"conflict,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// QueueBatchInput records a batch before it builds.
type QueueBatchInput struct {
	Collection string      `json:"collection"`
	Branch     string      `json:"branch"`
	Key        string      `json:"key"`
	Lane       policy.Lane `json:"lane"`
	Members    []int64     `json:"members"`
	Base       string      `json:"base"`
	Candidate  string      `json:"candidate"`
}

// QueueBuildInput lays out one queue build (a candidate, or a probe) as a build round of
// its own for BuildSet: the rebuild set of EvaluationID against BaseEvaluationID, or, for
// a probe, just Packages.
type QueueBuildInput struct {
	Collection       string        `json:"collection"`
	Key              string        `json:"key"`
	Name             string        `json:"name"`
	Commit           string        `json:"commit"`
	System           string        `json:"system"`
	EvaluationID     int64         `json:"evaluation_id"`
	BaseEvaluationID int64         `json:"base_evaluation_id,omitempty"`
	Packages         []string      `json:"packages,omitempty"`
	BatchID          int64         `json:"batch_id"`
	Probe            *policy.Probe `json:"probe,omitempty"`
}

// QueueBuildLayout is where a queue build's packages are: the round to hand to BuildSet.
type QueueBuildLayout struct {
	WaveID      int64 `json:"wave_id"`
	MinorWaveID int64 `json:"minor_wave_id"`
	Packages    int   `json:"packages"`
}

// QueueProbeInput reads the outcome of a finished queue build; with a Probe, it is
// recorded as that probe's outcome.
type QueueProbeInput struct {
	BatchID     int64         `json:"batch_id"`
	MinorWaveID int64         `json:"minor_wave_id"`
	System      string        `json:"system"`
	Probe       *policy.Probe `json:"probe,omitempty"`
	Commit      string        `json:"commit,omitempty"`
}

// QueueFastForwardInput moves the target branch to the tested candidate, if it is still
// at Expect.
type QueueFastForwardInput struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
	Expect     string `json:"expect"`
}

// QueueEjection is a change thrown out with the verdict against it.
type QueueEjection struct {
	ID      int64                `json:"id"`
	Reason  string               `json:"reason"`
	Verdict policy.BisectVerdict `json:"verdict"`
}

// QueueFinishInput records how a batch ended. The evidence of an ejection (the failed
// packages' log tails from the candidate build in MinorWaveID, the probes with their
// commits) is gathered from Postgres by the activity.
type QueueFinishInput struct {
	BatchID     int64           `json:"batch_id"`
	MinorWaveID int64           `json:"minor_wave_id,omitempty"`
	System      string          `json:"system,omitempty"`
	State       string          `json:"state"`
	Reason      string          `json:"reason"`
	Merged      []int64         `json:"merged,omitempty"`
	Ejected     []QueueEjection `json:"ejected,omitempty"`
	Requeued    []int64         `json:"requeued,omitempty"`
	// Built are the changes of a wave-lane batch built green aside: back in the queue as
	// one already-built unit (state built of the batch).
	Built []int64 `json:"built,omitempty"`
	// Flaky are the candidate's failed packages that passed on a rebuild (the bisection's
	// verdict), recorded per package; their logs are the candidate build's
	// (MinorWaveID, System).
	Flaky []string `json:"flaky,omitempty"`
}

// QueuePullsInput asks which pull requests a queue should take or let go of now.
type QueuePullsInput struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
}

// QueuePullsResult is the intake's plan: pull requests to submit (each after withdrawing
// the waiting change of its older head), waiting changes to withdraw because their pull
// request is no longer ready, and pull requests held until their older head's batch ends.
type QueuePullsResult struct {
	// Repo is the repository the pull requests come from; "" when this worker takes none
	// for the collection (then the plan is empty).
	Repo     string                `json:"repo,omitempty"`
	Ready    int                   `json:"ready"`
	Submit   []QueuePullSubmission `json:"submit,omitempty"`
	Withdraw []QueuePullWithdrawal `json:"withdraw,omitempty"`
	Held     []string              `json:"held,omitempty"`
}

// QueuePullSubmission is a pull request to submit at its head.
type QueuePullSubmission struct {
	// Key is the submission's update ID and record key: the pull request at its head into
	// the queue's branch, so that the same head is recorded once however often it is sent.
	Key    string      `json:"key"`
	Pull   PullRequest `json:"pull"`
	Title  string      `json:"title,omitempty"`
	Author string      `json:"author,omitempty"`
	Labels []string    `json:"labels,omitempty"`
	// Replaces is the waiting change of an older head of the pull request, withdrawn first.
	Replaces int64 `json:"replaces,omitempty"`
}

// QueuePullWithdrawal is a waiting change to take out, and why.
type QueuePullWithdrawal struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
}

// QueueSubmitPullInput submits a pull request to the queue of Collection's Branch
// (workflow Queue).
type QueueSubmitPullInput struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	Queue      string `json:"queue"`
	QueuePullSubmission
}

// QueueSubmitPullResult is the change recorded; or why the queue refused the pull request
// (its author is told there); or why it is held (its older head is being built).
type QueueSubmitPullResult struct {
	ID      int64  `json:"id,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Refused string `json:"refused,omitempty"`
	Held    string `json:"held,omitempty"`
}

// QueueWithdrawPullInput withdraws a waiting change from the queue of Collection's Branch
// (workflow Queue).
type QueueWithdrawPullInput struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	Queue      string `json:"queue"`
	QueuePullWithdrawal
}

// QueueReportInput delivers the outcomes of a queue's changes not reported yet.
type QueueReportInput struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
}

// QueueReportResult counts the outcomes delivered and those that failed (tried again on
// the next run), with the last failure.
type QueueReportResult struct {
	Reported int    `json:"reported"`
	Failed   int    `json:"failed"`
	Error    string `json:"error,omitempty"`
	// More says there were more to report than one run delivers.
	More bool `json:"more,omitempty"`
}
