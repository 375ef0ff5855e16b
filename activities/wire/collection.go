package wire

import "encoding/json"

// Collection is a package collection as Crest is configured to handle it. It is stored with
// the collection in Postgres (never with secrets) and handed to workflows by the
// LoadCollection activity.
type Collection struct {
	Name string `json:"name"`
	// Remote is the git remote (URL or path) waves fetch from and push branches and tags to.
	Remote string `json:"remote"`
	// Evaluator is the Nix index expression, relative to the repository root, that lists
	// every package as JSON.
	Evaluator string `json:"evaluator"`
	// Systems are the platforms built; each has its own builder task queue.
	Systems []string `json:"systems"`
	// ProtectedRoots are attributes whose whole build closure must never be marked broken.
	ProtectedRoots []string `json:"protected_roots,omitempty"`
	// TagPrefix names wave tags: <prefix>-N-M.
	TagPrefix string `json:"tag_prefix"`
	// MainBranch is the branch waves start from by default.
	MainBranch string `json:"main_branch"`
	// Policy is the collection's breaking-change policy (policy.Settings as JSON): grace
	// period, extensions, more protected roots. Major waves may override it.
	Policy json.RawMessage `json:"policy,omitempty"`
	// Upstreams are packages whose upstream projects take part in waves: when major wave N
	// reaches such a package, Crest looks for the tag <prefix>-N in its repository and
	// updates the package to it, or files an issue asking for it.
	Upstreams []Upstream `json:"upstreams,omitempty"`
}

// Upstream is a package's upstream repository.
type Upstream struct {
	Package   string `json:"package"`
	Repo      string `json:"repo"`
	TagPrefix string `json:"tag_prefix,omitempty"` // default: the collection's
}
