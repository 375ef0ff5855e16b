package activities

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/graph"
)

// Stable application error types: workflows branch on them, people see them in the Web UI.
const (
	ErrBuildFailed      = "BuildFailed"      // a package's build failed (not retried)
	ErrTestFailed       = "TestFailed"       // a package built but a passthru test failed
	ErrEvaluationFailed = "EvaluationFailed" // the collection does not evaluate at a commit
	ErrMergeConflict    = "MergeConflict"    // an update or fix ref does not merge
	ErrInvalidInput     = "InvalidInput"     // unknown package, ref, collection…
)

// Evaluator lists a collection's packages at a checkout (Nix: the index expression).
type Evaluator interface {
	Evaluate(ctx context.Context, checkoutDir, system string) ([]graph.Package, error)
}

// Builder realises a package's derivation and then its tests.
type Builder interface {
	// Build returns the outcome of a build that ran (passed, failed, test-failed); an error
	// means the build could not run (infrastructure) and is worth retrying. heartbeat is
	// called while it runs.
	Build(ctx context.Context, drv string, tests []string, heartbeat func()) (BuildResult, error)
}

// BuildResult is the outcome of building one package and its tests.
type BuildResult struct {
	Status     string   `json:"status"` // store.StatusPassed, StatusFailed, StatusTestFailed
	Outputs    []string `json:"outputs,omitempty"`
	ExitCode   int      `json:"exit_code,omitempty"`
	FailedTest string   `json:"failed_test,omitempty"`
	LogTail    string   `json:"log_tail,omitempty"`
}

// Activities holds what Crest's activities need. Workflows reference its methods; one value
// is registered per worker.
type Activities struct {
	Store     *store.Store
	Evaluator Evaluator
	Builder   Builder
	Repos     *Repos
	// Issues files issues for root causes; nil files none (the policy still runs).
	Issues Issues
}

// Repos opens each collection's working repository once per process, under Dir.
type Repos struct {
	Dir string
	// Credentials authenticate git to collection remotes and upstreams by URL prefix. They
	// stay in this process: collections, workflow payloads and records carry URLs without
	// them.
	Credentials []gitrepo.Credential
	mu          sync.Mutex
	m           map[string]*gitrepo.Repo
}

// Open returns the working repository of col, cloning it on first use.
func (r *Repos) Open(ctx context.Context, col Collection) (*gitrepo.Repo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if repo, ok := r.m[col.Name]; ok {
		return repo, nil
	}
	repo, err := gitrepo.Open(ctx, gitrepo.Config{Remote: col.Remote, Dir: filepath.Join(r.Dir, col.Name+".git"), Credentials: r.Credentials})
	if err != nil {
		return nil, fmt.Errorf("repository of %s: %w", col.Name, err)
	}
	if r.m == nil {
		r.m = map[string]*gitrepo.Repo{}
	}
	r.m[col.Name] = repo
	return repo, nil
}
