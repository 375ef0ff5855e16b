package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/policy"
)

// TagRoots keeps what tags pin alive in the tag host's Nix store: when a tag is pushed, the
// outputs of its packages (with their closures) become garbage-collector roots under
// Dir/<collection>/<tag>, fetched from the binary cache where the tag host lacks them,
// and recorded in Postgres until crest gc releases them. Without it (nil) tags root nothing.
type TagRoots struct {
	Nix *nix.Nix
	Dir string
}

// rootTag roots the outputs of a tag's evaluations and extra paths (a security tag's
// grafts). Rooting again (a retried activity) replaces the tag's roots.
func (a *Activities) rootTag(ctx context.Context, collection, tag, kind string, evaluations []int64, extra ...string) error {
	if a.Roots == nil {
		return nil
	}
	outputs, err := a.Store.TagOutputs(ctx, evaluations)
	if err != nil {
		return err
	}
	dir := filepath.Join(a.Roots.Dir, collection, tag)
	r, err := a.Roots.Nix.AddRoots(ctx, dir, append(outputs, extra...))
	if err != nil {
		return fmt.Errorf("roots of %s: %w", tag, err)
	}
	return a.Store.RecordTagRoot(ctx, store.TagRoot{Collection: collection, Tag: tag, Kind: kind, Dir: dir,
		Outputs: len(r.Rooted), Missing: len(r.Missing)})
}

// ReleasedRoot is one tag's roots as crest gc decided.
type ReleasedRoot struct {
	store.TagRoot
	Release bool   `json:"release"`
	Reason  string `json:"reason"`
}

// ReleaseRoots releases the tag roots that retention lets go at now (policy.ReleaseRoots),
// of one collection or all (""): it removes their directories, so that the next
// nix-store --gc may delete what only they kept, and records them released. It returns
// every root with the decision and its reason; dryRun decides without releasing. It must
// run where the roots are: on the tag host, with its data directory.
func ReleaseRoots(ctx context.Context, st *store.Store, collection string, r policy.Retention, now time.Time, dryRun bool) ([]ReleasedRoot, error) {
	roots, err := st.TagRoots(ctx, collection)
	if err != nil {
		return nil, err
	}
	in := make([]policy.Root, len(roots))
	byTag := map[[2]string]store.TagRoot{}
	for i, root := range roots {
		in[i] = policy.Root{Collection: root.Collection, Tag: root.Tag, Finished: root.Kind == store.RootFinished, CreatedAt: root.CreatedAt}
		byTag[[2]string{root.Collection, root.Tag}] = root
	}
	decisions, err := policy.ReleaseRoots(in, r, now)
	if err != nil {
		return nil, invalid("%v", err)
	}
	out := make([]ReleasedRoot, len(decisions))
	for i, d := range decisions {
		root := byTag[[2]string{d.Root.Collection, d.Root.Tag}]
		out[i] = ReleasedRoot{TagRoot: root, Release: d.Release, Reason: d.Reason}
		if !d.Release || dryRun {
			continue
		}
		if err := os.RemoveAll(root.Dir); err != nil {
			return out, fmt.Errorf("release roots of %s: %w", root.Tag, err)
		}
		if err := st.ReleaseTagRoot(ctx, root.Collection, root.Tag); err != nil {
			return out, err
		}
	}
	return out, nil
}
