package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/wire"
)

// TestPlanIntake holds the intake's rules: a head is submitted once, whatever became of
// it; a new head replaces the waiting change of the old one, or waits while it builds; a
// waiting change whose pull request is no longer ready is withdrawn; a head the intake
// withdrew is submitted again (with a new key) when its pull request is ready again.
func TestPlanIntake(t *testing.T) {
	t.Parallel()
	pr := func(n int64, head string) tracker.PullRequest {
		return tracker.PullRequest{Repo: "o/r", Number: n, Head: head, Title: "t", Author: "bob", Labels: []string{"crest-merge"}}
	}
	change := func(id, n int64, head, state string) store.QueueChange {
		return store.QueueChange{ID: id, PullRepo: "o/r", PullNumber: n, Commit: head, State: state}
	}
	keys := func(p wire.QueuePullsResult) []string {
		var out []string
		for _, s := range p.Submit {
			out = append(out, s.Key)
		}
		return out
	}

	p := planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a1"), pr(2, "b1")}, nil)
	require.Equal(t, []string{"pull:o/r#1@a1/main", "pull:o/r#2@b1/main"}, keys(p))
	require.Equal(t, 2, p.Ready)
	require.Equal(t, wire.PullRequest{Repo: "o/r", Number: 1, Head: "a1"}, p.Submit[0].Pull)
	require.Equal(t, "bob", p.Submit[0].Author)

	p = planIntake("o/r", "staging", "crest-merge", []tracker.PullRequest{pr(1, "a1")}, nil)
	require.Equal(t, []string{"pull:o/r#1@a1/staging"}, keys(p), "retargeted to another branch: another queue's change")

	for _, state := range []string{store.QueueQueued, store.QueueBatched, store.QueueMerged, store.QueueEjected, store.QueueHandedToWave} {
		p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a1")}, []store.QueueChange{change(5, 1, "a1", state)})
		require.Empty(t, p.Submit, "a head %s is not submitted again", state)
		require.Empty(t, p.Withdraw, state)
	}
	byPerson := change(5, 1, "a1", store.QueueWithdrawn)
	byPerson.Reason = "withdrawn by alice: not now"
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a1")}, []store.QueueChange{byPerson})
	require.Empty(t, p.Submit, "a person's withdrawal stands")
	byIntake := change(5, 1, "a1", store.QueueWithdrawn)
	byIntake.Reason = "withdrawn by " + IntakeBy + ": pull request #1 is no longer open, approved and labelled crest-merge"
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a1")}, []store.QueueChange{byIntake})
	require.Equal(t, []string{"pull:o/r#1@a1/main/1"}, keys(p), "ready again: a new submission of the same head")

	// A push: the waiting change of the old head is replaced; a building one holds the new head.
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a2")}, []store.QueueChange{change(5, 1, "a1", store.QueueQueued)})
	require.Equal(t, []string{"pull:o/r#1@a2/main"}, keys(p))
	require.Equal(t, int64(5), p.Submit[0].Replaces)
	require.Empty(t, p.Withdraw, "withdrawn by the submission that replaces it")
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a2")}, []store.QueueChange{change(5, 1, "a1", store.QueueBatched)})
	require.Empty(t, p.Submit)
	require.Len(t, p.Held, 1)
	require.Contains(t, p.Held[0], "waits for change 5")
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a2")}, []store.QueueChange{change(5, 1, "a1", store.QueueEjected)})
	require.Equal(t, []string{"pull:o/r#1@a2/main"}, keys(p), "the old head finished: the new one goes")
	require.Zero(t, p.Submit[0].Replaces)

	// No longer ready: a waiting change is withdrawn, a building one finishes.
	p = planIntake("o/r", "main", "crest-merge", nil, []store.QueueChange{change(5, 1, "a1", store.QueueQueued), change(6, 2, "b1", store.QueueBatched)})
	require.Equal(t, []wire.QueuePullWithdrawal{{ID: 5, Reason: "pull request #1 is no longer open, approved and labelled crest-merge"}}, p.Withdraw)
	// A stale waiting change beside one of the current head (a withdrawal that failed).
	p = planIntake("o/r", "main", "crest-merge", []tracker.PullRequest{pr(1, "a2")},
		[]store.QueueChange{change(5, 1, "a1", store.QueueQueued), change(6, 1, "a2", store.QueueQueued)})
	require.Empty(t, p.Submit)
	require.Equal(t, []wire.QueuePullWithdrawal{{ID: 5, Reason: "pull request #1 moved on to a2"}}, p.Withdraw)
}
