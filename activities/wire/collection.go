package wire

import (
	"encoding/json"
	"fmt"
	"strings"
)

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
	// SystemTests are tests (PACKAGE.TEST, e.g. "default-system.boot") that a security
	// patch runs against the grafted outputs before it tags a graft, whenever their package
	// is grafted: tests of the whole system that catch a patch changing the interface of
	// what it fixes, which the package's own tests cannot.
	SystemTests []string `json:"system_tests,omitempty"`
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

// SystemTest is one of a collection's SystemTests: a package and the name of one of its
// passthru tests.
type SystemTest struct {
	Package string `json:"package"`
	Test    string `json:"test"`
}

// String reads "default-system.boot".
func (t SystemTest) String() string { return t.Package + "." + t.Test }

// ParseSystemTest reads "PACKAGE.TEST"; the test is after the last dot, so that a package
// attribute may hold dots (python3Packages.requests.integration).
func ParseSystemTest(s string) (SystemTest, error) {
	i := strings.LastIndex(s, ".")
	if i <= 0 || i == len(s)-1 || strings.TrimSpace(s) != s {
		return SystemTest{}, fmt.Errorf("%q: want PACKAGE.TEST, a package and the name of one of its passthru tests (e.g. default-system.boot)", s)
	}
	return SystemTest{Package: s[:i], Test: s[i+1:]}, nil
}
