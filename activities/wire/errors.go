package wire

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
