package activities_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
)

// TestMergeRefsTakesWhatOldWorkersWrote: a merge scheduled before MergeInput had Sources
// (its input names refs, as recorded in testdata/histories) still merges them after an
// upgrade, instead of decoding into a merge of nothing.
func TestMergeRefsTakesWhatOldWorkersWrote(t *testing.T) {
	ctx := t.Context()
	d, err := demo.Create(ctx, filepath.Join(t.TempDir(), "demo"))
	require.NoError(t, err)
	a := &activities.Activities{Store: testenv.Store(t), Repos: &activities.Repos{Dir: t.TempDir()}}
	col := wire.Collection{Name: "demo", Remote: d.Remote, Evaluator: "index.nix", Systems: []string{"x86_64-linux"},
		TagPrefix: "wave", MainBranch: d.Main}
	require.NoError(t, a.RegisterCollection(ctx, col))
	repo, err := a.Repos.Open(ctx, col)
	require.NoError(t, err)
	_, err = repo.PrepareBranch(ctx, "wave-1", d.Main) // as StartWave does
	require.NoError(t, err)

	var in wire.MergeInput
	require.NoError(t, json.Unmarshal([]byte(`{"collection":"demo","branch":"wave-1","refs":["`+demo.UpdateLibnet2+`"],"message":"wave-1-2"}`), &in))
	head, err := a.MergeRefs(ctx, in)
	require.NoError(t, err)
	require.NotEqual(t, d.Commits[d.Main], head, "something was merged")
	pushed, err := exec.Command("git", "-C", d.Remote, "rev-parse", "wave-1").Output()
	require.NoError(t, err)
	require.Equal(t, head, strings.TrimSpace(string(pushed)), "and pushed")
	require.NoError(t, exec.Command("git", "-C", d.Remote, "merge-base", "--is-ancestor", d.Commits[demo.UpdateLibnet2], head).Run(),
		"the old worker's ref is in the pushed head")
}
