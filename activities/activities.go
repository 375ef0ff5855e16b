package activities

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
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
	Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error)
}

// Activities holds what Crest's activities need. Workflows call its methods by name (the
// wire.Activity… constants); one value is registered per worker (Register).
type Activities struct {
	Store     *store.Store
	Evaluator Evaluator
	Builder   Builder
	Repos     *Repos
	// Issues files issues for root causes; nil files none (the policy still runs).
	Issues Issues
	// Intake takes approved pull requests into a collection's merge queue and reports
	// their results there; nil takes none.
	Intake *PullIntake
	// Queues sends merge queues their updates for the intake; nil: the intake cannot
	// submit (the worker wires workflows.QueueClient).
	Queues QueueUpdates
	// QueueIssues follows changes submitted by ref with local issues (crest dev); nil
	// reports them nowhere but Postgres (crest queue status).
	QueueIssues tracker.Tracker
	// Roots keeps tagged outputs from garbage collection on the tag host; nil keeps none.
	Roots *TagRoots
	// Host names this worker (host:pid) in the builds it records: with builders on many
	// machines, where each package was built.
	Host string
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
func (r *Repos) Open(ctx context.Context, col wire.Collection) (*gitrepo.Repo, error) {
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
