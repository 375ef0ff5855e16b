package wire

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Stable application error types: workflows branch on them, people see them in the Web UI.
const (
	ErrBuildFailed      = "BuildFailed"      // a package's build failed (not retried)
	ErrTestFailed       = "TestFailed"       // a package built but a passthru test failed
	ErrEvaluationFailed = "EvaluationFailed" // the collection does not evaluate at a commit
	ErrMergeConflict    = "MergeConflict"    // an update or fix ref does not merge
	ErrInvalidInput     = "InvalidInput"     // unknown package, ref, collection…
	ErrRoundStuck       = "RoundStuck"       // a round waits on packages nothing builds (a defect)
)

// BuildFailureDetails ride on BuildFailed/TestFailed errors.
type BuildFailureDetails struct {
	Package    string `json:"package"`
	FailedTest string `json:"failed_test,omitempty"`
	LogTail    string `json:"log_tail"`
}

// BuildKey is the idempotency key of a package's build in a round (BuildInput.Key): the
// same whichever dispatcher builds it (a shard, a BuildSet, a build slot).
func BuildKey(prefix, system, pkg string, round int) string {
	return fmt.Sprintf("%s/%s/%s/r%d", prefix, system, pkg, round)
}

// Build outcomes, as BuildOutcome tells them from a BuildPackage error.
const (
	OutcomePassed     = "passed"
	OutcomeFailed     = "failed"      // ErrBuildFailed: recorded, not retried
	OutcomeTestFailed = "test-failed" // ErrTestFailed: recorded, not retried
	OutcomeTrouble    = ""            // anything else: infrastructure, retried
)

// BuildOutcome tells what BuildPackage's error says about the build.
func BuildOutcome(err error) string {
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return OutcomePassed
	case errors.As(err, &app) && app.Type() == ErrBuildFailed:
		return OutcomeFailed
	case errors.As(err, &app) && app.Type() == ErrTestFailed:
		return OutcomeTestFailed
	}
	return OutcomeTrouble
}
