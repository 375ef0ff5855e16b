package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// QueueSubmit records an approved change in a merge queue, once per key. The ref must
// name a commit of the collection's repository and the target branch must exist there:
// anything else is refused with a message naming it, and nothing is recorded.
func (a *Activities) QueueSubmit(ctx context.Context, in wire.QueueSubmitInput) (wire.QueueSubmitResult, error) {
	if strings.TrimSpace(in.Ref) == "" {
		return wire.QueueSubmitResult{}, invalid("a change needs a ref (branch, tag or commit)")
	}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return wire.QueueSubmitResult{}, err
	}
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return wire.QueueSubmitResult{}, err
	}
	if _, err := repo.RemoteHead(ctx, in.Branch); errors.Is(err, gitrepo.ErrRefNotFound) {
		return wire.QueueSubmitResult{}, invalid("target branch %q not found in %s", in.Branch, gitrepo.RedactURL(col.Remote))
	} else if err != nil {
		return wire.QueueSubmitResult{}, err
	}
	var commit string
	if p := in.Pull; p != nil {
		commit, err = pullCommit(ctx, repo, in.Ref, *p)
	} else {
		commit, err = repo.ResolveRef(ctx, in.Ref)
		if errors.Is(err, gitrepo.ErrRefNotFound) {
			err = invalid("ref %q not found in %s: push the change there first", in.Ref, gitrepo.RedactURL(col.Remote))
		}
	}
	if err != nil {
		return wire.QueueSubmitResult{}, err
	}
	q := store.QueueChange{Key: in.Key, Collection: in.Collection, Branch: in.Branch, Ref: in.Ref,
		Commit: commit, Title: in.Title, Labels: in.Labels, SubmittedBy: in.By}
	if p := in.Pull; p != nil {
		q.PullRepo, q.PullNumber, q.PullURL = p.Repo, p.Number, p.URL
	}
	q, err = a.Store.SubmitChange(ctx, q)
	if err != nil {
		return wire.QueueSubmitResult{}, err
	}
	return wire.QueueSubmitResult{ID: q.ID, Commit: q.Commit}, nil
}

// pullCommit fetches a pull request's head ref (refs/pull/N/head: the branch fetch does not
// carry it, and a fork's branch is not in the repository at all) and returns the head that
// was approved. A push since the approval was read moves the ref past it; the approved
// commit is queued all the same, and the newer head is the intake's next submission.
func pullCommit(ctx context.Context, repo *gitrepo.Repo, ref string, p wire.PullRequest) (string, error) {
	if p.Number <= 0 || !fullCommit.MatchString(p.Head) {
		return "", invalid("pull request %s#%d: want a number and a full head commit (got %q)", p.Repo, p.Number, p.Head)
	}
	if _, err := repo.FetchRef(ctx, ref); errors.Is(err, gitrepo.ErrRefNotFound) {
		return "", invalid("pull request %s#%d: %s not found in %s", p.Repo, p.Number, ref, gitrepo.RedactURL(repo.Remote()))
	} else if err != nil {
		return "", err
	}
	commit, err := repo.ResolveRef(ctx, p.Head)
	if errors.Is(err, gitrepo.ErrRefNotFound) {
		return "", invalid("pull request %s#%d: its approved head %s is not in %s (pushed over?)", p.Repo, p.Number, short(p.Head), gitrepo.RedactURL(repo.Remote()))
	}
	return commit, err
}

var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// QueueWithdraw takes a queued change out of its queue.
func (a *Activities) QueueWithdraw(ctx context.Context, in wire.QueueWithdrawInput) error {
	if err := a.Store.WithdrawChange(ctx, in.ID, in.Reason); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invalid("%v", err)
		}
		return err
	}
	return nil
}

// QueueLane computes a change's rebuild set (the candidate of the branch head plus the
// change, evaluated, against the head's evaluation) and asks policy.ChooseLane for its
// lane, which it records with the reason. A change in the wave lane is handed to the next
// major wave at once, unless the queue builds its wave lane (in.WaveLane). A change that does not merge onto the head is reported as a
// conflict.
func (a *Activities) QueueLane(ctx context.Context, in wire.QueueLaneInput) (wire.QueueLaneResult, error) {
	var out wire.QueueLaneResult
	settings, err := queueSettings(in.Settings)
	if err != nil {
		return out, err
	}
	cand, err := a.QueueCandidate(ctx, wire.QueueCandidateInput{Collection: in.Collection, Branch: in.Branch,
		Key: fmt.Sprintf("lane-%d", in.ID), Changes: []wire.QueueRef{{ID: in.ID, Commit: in.Commit}}})
	if err != nil {
		return out, err
	}
	out.Head = cand.Base
	if cand.Conflict != 0 {
		out.Conflict, out.Reason = true, cand.Reason
		return out, nil
	}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	system := col.Systems[0]
	rebuild, err := a.rebuildSet(ctx, in.Collection, system, cand.Base, cand.Commit)
	if err != nil {
		return out, err
	}
	d, err := policy.ChooseLane(policy.Change{ID: fmt.Sprint(in.ID), Rebuilds: len(rebuild), Labels: in.Labels}, settings)
	if err != nil {
		return out, invalid("%v", err)
	}
	out.Lane, out.Reason, out.Rebuilds = d.Lane, d.Reason, len(rebuild)
	handOff := ""
	if d.Lane == policy.LaneWave && in.WaveLane != policy.WaveLaneBuild {
		handOff = "handed to the next major wave as a root update: " + d.Reason
	}
	return out, a.Store.SetLane(ctx, in.ID, string(d.Lane), d.Reason, len(rebuild), handOff)
}

// queueSettings decodes a queue's settings and validates them.
func queueSettings(raw json.RawMessage) (policy.QueueSettings, error) {
	var s policy.QueueSettings
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, invalid("queue settings: %v", err)
		}
	}
	e, err := s.Effective()
	if err != nil {
		return s, invalid("%v", err)
	}
	return e, nil
}

// rebuildSet evaluates base and commit and returns the packages whose derivation differs.
func (a *Activities) rebuildSet(ctx context.Context, collection, system, base, commit string) ([]string, error) {
	var evs [2]int64
	for i, c := range []string{base, commit} {
		ev, err := a.Evaluate(ctx, wire.EvaluateInput{Collection: collection, Commit: c, System: system})
		if err != nil {
			return nil, err
		}
		evs[i] = ev.EvaluationID
	}
	from, err := a.loadGraph(ctx, evs[0])
	if err != nil {
		return nil, err
	}
	to, err := a.loadGraph(ctx, evs[1])
	if err != nil {
		return nil, err
	}
	return graph.RebuildSet(from, to).Keys(), nil
}

// QueueCandidate makes a candidate commit: the base (the target branch's head on the
// remote when not given) with the changes merged in order, on a branch of its own
// (crest-queue/<branch>/<key>), pushed so that every worker can evaluate and build it.
// Idempotent: the branch made already is returned as it is.
func (a *Activities) QueueCandidate(ctx context.Context, in wire.QueueCandidateInput) (wire.QueueCandidateResult, error) {
	out := wire.QueueCandidateResult{Base: in.Base}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	defer keepAlive(ctx, "making candidate "+in.Key)()
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return out, err
	}
	if out.Base == "" {
		if out.Base, err = repo.RemoteHead(ctx, in.Branch); err != nil {
			return out, fmt.Errorf("candidate %s: %w", in.Key, err)
		}
	}
	branch := "crest-queue/" + in.Branch + "/" + in.Key
	head, err := repo.PrepareBranch(ctx, branch, out.Base)
	if err != nil {
		return out, err
	}
	out.Commit = head
	for _, c := range in.Changes {
		if err := a.haveCommit(ctx, repo, c); err != nil {
			return out, err
		}
		head, err := repo.Merge(ctx, branch, c.Commit, fmt.Sprintf("crest queue: merge change %d", c.ID))
		var conflict *gitrepo.ConflictError
		switch {
		case errors.As(err, &conflict):
			out.Conflict = c.ID
			out.Reason = fmt.Sprintf("change %d does not merge onto %s: conflicts in %s", c.ID, short(out.Base), strings.Join(conflict.Files, ", "))
			return out, nil
		case err != nil:
			return out, err
		}
		out.Commit = head
	}
	return out, repo.Push(ctx, branch)
}

// haveCommit makes sure the working repository has a change's commit. One that came
// from a pull request is reachable only from its head ref (refs/pull/N/head), which the
// branch fetch does not carry: the worker that took the submission fetched it, another
// worker fetches it here.
func (a *Activities) haveCommit(ctx context.Context, repo *gitrepo.Repo, c wire.QueueRef) error {
	if _, err := repo.ResolveRef(ctx, c.Commit); !errors.Is(err, gitrepo.ErrRefNotFound) {
		return err
	}
	q, err := a.Store.QueueChange(ctx, c.ID)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(q.Ref, "refs/") {
		return nil // Merge says what is missing
	}
	if _, err := repo.FetchRef(ctx, q.Ref); err != nil && !errors.Is(err, gitrepo.ErrRefNotFound) {
		return err
	}
	return nil
}

// QueueStartBatch records a batch and marks its members batched, in one transaction.
func (a *Activities) QueueStartBatch(ctx context.Context, in wire.QueueBatchInput) (int64, error) {
	b, err := a.Store.StartBatch(ctx, in.Collection, store.QueueBatch{Key: in.Key, Branch: in.Branch, Lane: string(in.Lane),
		Members: in.Members, BaseCommit: in.Base, CandidateCommit: in.Candidate})
	return b.ID, err
}

// QueuePrepareBuild lays a queue build out as a build round of its own (see migration
// 0007) for the build engine: the frontier and pending package results BuildSet takes
// from. A candidate builds its rebuild set against the base evaluation; a probe builds
// only its packages (Nix builds what they need that is not built yet). Packages the
// commit does not have, and meta.broken ones, are left out. Idempotent.
func (a *Activities) QueuePrepareBuild(ctx context.Context, in wire.QueueBuildInput) (wire.QueueBuildLayout, error) {
	var out wire.QueueBuildLayout
	round, err := a.Store.OpenBuildRound(ctx, store.BuildRoundSpec{Collection: in.Collection, Key: in.Key, Name: in.Name,
		Kind: store.BuildRoundQueue, Commit: in.Commit, EvaluationID: in.EvaluationID})
	if err != nil {
		return out, err
	}
	out.WaveID, out.MinorWaveID = round.WaveID, round.MinorWaveID
	if out.Packages, err = a.laidOut(ctx, round.MinorWaveID, in.System); err != nil || out.Packages > 0 {
		return out, err
	}
	current, err := a.loadGraph(ctx, in.EvaluationID)
	if err != nil {
		return out, err
	}
	want := slices.Clone(in.Packages)
	if in.Probe == nil {
		base, err := a.loadGraph(ctx, in.BaseEvaluationID)
		if err != nil {
			return out, err
		}
		want = graph.RebuildSet(base, current).Keys()
	}
	if out.Packages, err = a.putBuildRound(ctx, round.MinorWaveID, in.System, current, want, policy.Set{}); err != nil {
		return out, err
	}
	if in.Probe != nil {
		err = a.Store.RecordProbe(ctx, store.QueueProbe{BatchID: in.BatchID, Round: in.Probe.Round, Kind: string(in.Probe.Kind),
			Prefix: in.Probe.Prefix, Commit: in.Commit, Packages: in.Probe.Packages, MinorWaveID: round.MinorWaveID})
	} else {
		err = a.Store.SetBatchBuild(ctx, in.BatchID, round.MinorWaveID, out.Packages, "building")
	}
	return out, err
}

// QueueProbeDone returns the packages a finished queue build did not build (their own
// build or tests failed), and records them as the probe's outcome when
// it was a probe.
func (a *Activities) QueueProbeDone(ctx context.Context, in wire.QueueProbeInput) ([]string, error) {
	fs, err := a.Store.RoundFailures(ctx, in.MinorWaveID, in.System)
	if err != nil {
		return nil, err
	}
	// Root causes only: a dependent blocked by one of them fails or builds with it, so
	// following the root causes finds the culprit with fewer builds per probe.
	failed := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.Status != store.StatusDependencyFailed {
			failed = append(failed, f.Package)
		}
	}
	if in.Probe != nil {
		if err := a.Store.RecordProbe(ctx, store.QueueProbe{BatchID: in.BatchID, Round: in.Probe.Round, Kind: string(in.Probe.Kind),
			Prefix: in.Probe.Prefix, Commit: in.Commit, Packages: in.Probe.Packages, Failed: failed, MinorWaveID: in.MinorWaveID, Done: true}); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// QueueFastForward moves the target branch on the remote to exactly the tested commit, if
// it is still where the candidate was made. A branch that moved is a non-retryable
// BranchMoved error: the workflow makes the batch again on the new head.
func (a *Activities) QueueFastForward(ctx context.Context, in wire.QueueFastForwardInput) error {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return err
	}
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return err
	}
	err = repo.FastForward(ctx, in.Branch, in.Commit, in.Expect)
	if errors.Is(err, gitrepo.ErrBranchMoved) {
		return temporal.NewNonRetryableApplicationError(err.Error(), wire.ErrBranchMoved, err)
	}
	return err
}

// queueEvidence is what an ejected change carries: why, the packages it broke with their
// log tails from the candidate's build, and every probe of the bisection with its commit.
type queueEvidence struct {
	Reason   string                `json:"reason"`
	Verdict  policy.BisectVerdict  `json:"verdict"`
	Failures []store.FailedPackage `json:"failures"`
	Probes   []store.QueueProbe    `json:"probes"`
}

// QueueFinishBatch records how a batch ended, in one transaction: merged changes,
// ejected ones with their evidence (gathered here from the candidate's build and the
// recorded probes), and those back in the queue.
func (a *Activities) QueueFinishBatch(ctx context.Context, in wire.QueueFinishInput) error {
	out := store.BatchOutcome{BatchID: in.BatchID, State: in.State, Reason: in.Reason, Merged: in.Merged, Requeued: in.Requeued, Built: in.Built}
	var fails []store.FailedPackage // the candidate's
	if in.MinorWaveID != 0 && (len(in.Ejected) > 0 || len(in.Flaky) > 0) {
		var err error
		if fails, err = a.Store.RoundFailures(ctx, in.MinorWaveID, in.System); err != nil {
			return err
		}
	}
	for _, pkg := range in.Flaky {
		f := store.FlakyFailure{System: in.System, Package: pkg}
		for _, r := range fails {
			if r.Package == pkg {
				f.LogTail = clip(r.LogTail, 2<<10)
			}
		}
		out.Flaky = append(out.Flaky, f)
	}
	if len(in.Ejected) > 0 {
		probes, err := a.Store.QueueProbes(ctx, in.BatchID)
		if err != nil {
			return err
		}
		for _, e := range in.Ejected {
			ev := queueEvidence{Reason: e.Reason, Verdict: e.Verdict, Probes: probes}
			for _, f := range fails {
				if slices.Contains(e.Verdict.Broke, f.Package) {
					f.LogTail = clip(f.LogTail, 2<<10)
					ev.Failures = append(ev.Failures, f)
				}
			}
			doc, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			out.Ejected = append(out.Ejected, store.Ejection{ID: e.ID, Reason: e.Reason, Evidence: doc})
		}
	}
	return a.Store.FinishBatch(ctx, out)
}
