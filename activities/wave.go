package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/graph/planview"
	"github.com/crestwaves/crest/policy"
)

// RegisterCollection stores a configured collection (cmd calls it at start; it is not a
// workflow activity).
func (a *Activities) RegisterCollection(ctx context.Context, col wire.Collection) error {
	settings, err := json.Marshal(col)
	if err != nil {
		return err
	}
	_, err = a.Store.UpsertCollection(ctx, store.Collection{Name: col.Name, Remote: col.Remote, Settings: settings})
	return err
}

// LoadCollection returns a registered collection's settings.
func (a *Activities) LoadCollection(ctx context.Context, name string) (wire.Collection, error) {
	row, err := a.Store.CollectionByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		known, _ := a.Store.Collections(ctx)
		return wire.Collection{}, invalid("unknown collection %q; known: %s (configure collections in crest.yaml)", name, strings.Join(known, ", "))
	}
	if err != nil {
		return wire.Collection{}, err
	}
	var col wire.Collection
	if err := json.Unmarshal(row.Settings, &col); err != nil {
		return col, fmt.Errorf("settings of collection %s: %w", name, err)
	}
	return col, nil
}

// StartWave registers a major wave (allocating its number) and prepares its branch from
// the base ref. Idempotent by workflow ID.
func (a *Activities) StartWave(ctx context.Context, in wire.StartWaveInput) (wire.StartWaveResult, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return wire.StartWaveResult{}, err
	}
	defer keepAlive(ctx, "starting a wave of "+in.Collection)()
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return wire.StartWaveResult{}, err
	}
	if in.BaseRef == "" {
		in.BaseRef = col.MainBranch
	}
	effective, err := EffectivePolicy(col, in.Policy)
	if err != nil {
		return wire.StartWaveResult{}, invalid("%v", err)
	}
	w, err := a.Store.CreateWave(ctx, store.Wave{
		CollectionID: row.ID, Number: in.Number, WorkflowID: in.WorkflowID, Title: in.Title,
		BaseRef: in.BaseRef, State: "planning", Input: in.Input,
	})
	if err != nil {
		if errors.Is(err, store.ErrTaken) {
			return wire.StartWaveResult{}, invalid("%v", err)
		}
		return wire.StartWaveResult{}, err
	}
	w.Branch = wavename.Major(col.TagPrefix, w.Number)
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return wire.StartWaveResult{}, err
	}
	head, err := repo.PrepareBranch(ctx, w.Branch, in.BaseRef)
	if errors.Is(err, gitrepo.ErrRefNotFound) {
		return wire.StartWaveResult{}, invalid("base ref %q not found in %s", in.BaseRef, gitrepo.RedactURL(col.Remote))
	}
	if err != nil {
		return wire.StartWaveResult{}, err
	}
	base, err := a.Store.SetWaveBase(ctx, w.ID, head)
	if err != nil {
		return wire.StartWaveResult{}, err
	}
	if err := repo.Push(ctx, w.Branch); err != nil {
		return wire.StartWaveResult{}, err
	}
	return wire.StartWaveResult{WaveID: w.ID, Number: w.Number, Name: wavename.Major(col.TagPrefix, w.Number),
		Branch: w.Branch, BaseCommit: base, Collection: col, Policy: effective}, nil
}

// Evaluate stores the collection's package graph at a commit (once per commit and system)
// and returns its ID.
func (a *Activities) Evaluate(ctx context.Context, in wire.EvaluateInput) (wire.EvaluateResult, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return wire.EvaluateResult{}, err
	}
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return wire.EvaluateResult{}, err
	}
	if ev, err := a.Store.FindEvaluation(ctx, row.ID, in.Commit, in.System); err == nil {
		return wire.EvaluateResult{System: in.System, EvaluationID: ev.ID, Packages: ev.Packages, Edges: ev.Edges}, nil
	}
	pkgs, err := a.evaluateAt(ctx, col, in.Commit, in.System)
	if err != nil {
		return wire.EvaluateResult{}, err
	}
	ev, _, err := a.Store.SaveEvaluation(ctx, row.ID, in.Commit, in.System, pkgs)
	if err != nil {
		return wire.EvaluateResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("evaluation of %s at %s: %v", col.Name, short(in.Commit), err), wire.ErrEvaluationFailed, err)
	}
	return wire.EvaluateResult{System: in.System, EvaluationID: ev.ID, Packages: ev.Packages, Edges: ev.Edges}, nil
}

// evaluateAt runs the evaluator in a worktree at commit.
func (a *Activities) evaluateAt(ctx context.Context, col wire.Collection, commit, system string) ([]graph.Package, error) {
	stop := keepAlive(ctx, "fetching "+col.Name)
	repo, err := a.Repos.Open(ctx, col)
	stop()
	if err != nil {
		return nil, err
	}
	dir, cleanup, err := repo.Worktree(ctx, commit)
	if err != nil {
		return nil, err
	}
	defer cleanup() //nolint:errcheck // a stale worktree is pruned on the next open
	stop = keepAlive(ctx, "evaluating "+short(commit))
	pkgs, err := a.Evaluator.Evaluate(ctx, dir, system)
	stop()
	var evalErr *nix.EvalError
	if errors.As(err, &evalErr) {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s does not evaluate at %s: %v", col.Name, short(commit), err), wire.ErrEvaluationFailed, err)
	}
	return pkgs, err
}

// Plan computes the order of minor waves for a major wave's updates (graph.Plan over the
// stored evaluation), stores the full plan with the wave, and returns the part the workflow
// needs.
func (a *Activities) Plan(ctx context.Context, in wire.PlanInput) (wire.PlanResult, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return wire.PlanResult{}, err
	}
	pkgs, err := a.Store.LoadPackages(ctx, in.EvaluationID)
	if err != nil {
		return wire.PlanResult{}, err
	}
	g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
	if err != nil {
		return wire.PlanResult{}, err
	}
	refs := map[string]wire.Update{}
	keys := make([]string, 0, len(in.Updates))
	var unknown []string
	for _, u := range in.Updates {
		key, err := g.Resolve(u.Package)
		if err != nil {
			unknown = append(unknown, err.Error())
			continue
		}
		if prev, dup := refs[key]; dup && prev.Ref != u.Ref {
			return wire.PlanResult{}, invalid("package %s is updated twice (%s and %s)", key, prev.Ref, u.Ref)
		}
		u.Package = key
		refs[key] = u
		keys = append(keys, key)
	}
	if len(unknown) > 0 {
		return wire.PlanResult{}, invalid("%s", strings.Join(unknown, "; "))
	}
	checks, err := a.checkUpstreams(ctx, col, in, g, refs)
	if err != nil {
		return wire.PlanResult{}, err
	}
	for _, c := range checks {
		if c.Found {
			refs[c.Package] = wire.Update{Package: c.Package, Ref: "refs/tags/" + c.Tag, Repo: c.Repo}
			keys = append(keys, c.Package)
		}
	}
	if len(in.Policy) > 0 {
		settings, err := policy.DecodeSettings(in.Policy)
		if err != nil {
			return wire.PlanResult{}, invalid("wave policy: %v", err)
		}
		if _, err := policy.Protected(g, settings.ProtectedRoots); err != nil {
			return wire.PlanResult{}, invalid("protected roots: %v", err)
		}
	}
	ev, err := a.Store.Evaluation(ctx, in.EvaluationID)
	if err != nil {
		return wire.PlanResult{}, err
	}
	locked, err := a.Store.LockedIn(ctx, in.WaveID, ev.System, 0)
	if err != nil {
		return wire.PlanResult{}, err
	}
	cost, err := a.planCost(ctx, ev.System, g, keys, in.Groups)
	if err != nil {
		return wire.PlanResult{}, err
	}
	plan, err := g.Plan(graph.PlanRequest{Updates: keys, Groups: in.Groups, Locked: locked, Wave: in.Wave, Cost: cost})
	if err != nil {
		return wire.PlanResult{}, invalid("%v", err)
	}
	var doc strings.Builder
	if err := planview.JSON(&doc, plan); err != nil {
		return wire.PlanResult{}, err
	}
	if err := a.Store.SetWavePlan(ctx, in.WaveID, json.RawMessage(doc.String())); err != nil {
		return wire.PlanResult{}, err
	}
	byID := map[string]int{}
	out := wire.PlanResult{Builds: plan.Totals.Builds, CostSeconds: plan.Totals.CostSeconds, Upstream: checks}
	for i, m := range plan.Minor {
		num := in.FirstMinor + i
		byID[m.ID] = num
		pm := wire.PlannedMinor{Number: num, Name: wavename.Minor(col.TagPrefix, in.Wave, num), Builds: m.Builds, CostSeconds: m.CostSeconds}
		for _, k := range m.Updates {
			pm.Updates = append(pm.Updates, refs[k])
		}
		for _, after := range m.After {
			pm.After = append(pm.After, byID[after])
		}
		out.Minor = append(out.Minor, pm)
	}
	return out, nil
}

// planCost is the cost model of a plan on system: measured durations (costModel) for the
// packages the plan may rebuild, the reverse closure of its updates and groups (a group's
// unknown keys are left to g.Plan to report).
func (a *Activities) planCost(ctx context.Context, system string, g *graph.Graph, updates []string, groups [][]string) (graph.CostModel, error) {
	roots := slices.Clone(updates)
	for _, grp := range groups {
		for _, k := range grp {
			if g.Has(k) {
				roots = append(roots, k)
			}
		}
	}
	affected, err := g.ReverseClosure(roots...)
	if err != nil {
		return nil, err
	}
	return a.costModel(ctx, system, affected)
}

// checkUpstreams looks, for every configured upstream the wave reaches (downstream of its
// updates) and does not already update, for the tag <prefix>-N in the upstream's
// repository: found, the package is updated to it; missing, an issue asks for it (one per
// package and wave, however often the wave is planned).
func (a *Activities) checkUpstreams(ctx context.Context, col wire.Collection, in wire.PlanInput, g *graph.Graph, updates map[string]wire.Update) ([]wire.UpstreamCheck, error) {
	if len(col.Upstreams) == 0 {
		return nil, nil
	}
	roots := make([]string, 0, len(updates))
	for k := range updates {
		roots = append(roots, k)
	}
	reached, err := g.ReverseClosure(roots...)
	if err != nil {
		return nil, err
	}
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return nil, err
	}
	ups := slices.Clone(col.Upstreams)
	slices.SortFunc(ups, func(x, y wire.Upstream) int { return strings.Compare(x.Package, y.Package) })
	var out []wire.UpstreamCheck
	for _, up := range ups {
		key, err := g.Resolve(up.Package)
		if err != nil {
			return nil, invalid("upstream of %s: %v", up.Package, err)
		}
		if _, updated := updates[key]; updated || !slices.Contains(reached, key) {
			continue
		}
		c := wire.UpstreamCheck{Package: key, Repo: up.Repo, Tag: wavename.Major(cmp.Or(up.TagPrefix, col.TagPrefix), in.Wave)}
		activity.RecordHeartbeat(ctx, "upstream "+key)
		if c.Found, err = repo.RemoteTagExists(ctx, up.Repo, c.Tag); err != nil {
			return nil, fmt.Errorf("upstream of %s: %w", key, err)
		}
		if !c.Found && a.Issues != nil {
			p, _ := g.Package(key)
			var ups []wire.Update
			for _, k := range slices.Sorted(maps.Keys(updates)) {
				ups = append(ups, updates[k])
			}
			c.Issue, err = a.Issues.RequestTag(ctx, TagRequest{Collection: col.Name, Package: key, Maintainers: p.Maintainers,
				Repo: up.Repo, Tag: c.Tag, Wave: wavename.Major(col.TagPrefix, in.Wave), Updates: ups})
			if err != nil {
				return nil, issueError(key, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// MergeRefs merges refs onto a wave branch, in order, and pushes it; it returns the head.
func (a *Activities) MergeRefs(ctx context.Context, in wire.MergeInput) (string, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return "", err
	}
	defer keepAlive(ctx, "merging onto "+in.Branch)()
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return "", err
	}
	sources := make([]wire.Update, 0, len(in.Refs)+len(in.Sources))
	for _, ref := range in.Refs {
		sources = append(sources, wire.Update{Ref: ref})
	}
	head := ""
	for _, src := range append(sources, in.Sources...) {
		ref, what := src.Ref, src.Ref
		if src.Repo != "" {
			// An upstream's tag: fetch it from there, then merge its commit.
			what = gitrepo.RedactURL(src.Repo) + " " + src.Ref
			if ref, err = repo.FetchExternal(ctx, src.Repo, src.Ref); errors.Is(err, gitrepo.ErrRefNotFound) {
				return "", invalid("%s not found in %s", src.Ref, gitrepo.RedactURL(src.Repo))
			} else if err != nil {
				return "", err
			}
		}
		head, err = repo.Merge(ctx, in.Branch, ref, fmt.Sprintf("%s: merge %s", in.Message, what))
		var conflict *gitrepo.ConflictError
		switch {
		case errors.As(err, &conflict):
			return "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s does not merge onto %s: conflicts in %s", what, in.Branch, strings.Join(conflict.Files, ", ")),
				wire.ErrMergeConflict, err)
		case errors.Is(err, gitrepo.ErrRefNotFound):
			return "", invalid("ref %q not found in %s", what, gitrepo.RedactURL(col.Remote))
		case err != nil:
			return "", err
		}
	}
	if head == "" {
		if head, err = repo.ResolveRef(ctx, in.Branch); err != nil {
			return "", err
		}
	}
	return head, repo.Push(ctx, in.Branch)
}

// StartMinorWave registers a minor wave and returns its ID.
func (a *Activities) StartMinorWave(ctx context.Context, in wire.StartMinorInput) (int64, error) {
	updates, err := json.Marshal(in.Updates)
	if err != nil {
		return 0, err
	}
	m, err := a.Store.StartMinorWave(ctx, in.WaveID, in.Number, in.Name, updates)
	return m.ID, err
}

// RecordState records a wave's or minor wave's state with its reason (for `crest wave
// list` and `status`) and the audit entry, in one transaction.
func (a *Activities) RecordState(ctx context.Context, in wire.StateInput) error {
	return a.Store.RecordState(ctx, store.StateChange{WaveID: in.WaveID, MinorWaveID: in.MinorWaveID, State: in.State,
		Reason: in.Reason, Audit: store.AuditEntry{Key: in.Key, Actor: "crest", Wave: in.Wave, Action: in.State, Reason: in.Reason}})
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), wire.ErrInvalidInput, nil)
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// EffectivePolicy layers a wave's policy override over its collection's policy (whose
// protected roots come first) and the defaults, and validates the result; errors name the
// offending field.
func EffectivePolicy(col wire.Collection, override json.RawMessage) (json.RawMessage, error) {
	base := policy.Settings{ProtectedRoots: col.ProtectedRoots}
	if len(col.Policy) > 0 {
		s, err := policy.DecodeSettings(col.Policy)
		if err != nil {
			return nil, fmt.Errorf("policy of collection %s: %w", col.Name, err)
		}
		if s.ProtectedRoots != nil {
			s.ProtectedRoots = append(slices.Clone(col.ProtectedRoots), s.ProtectedRoots...)
		}
		base = policy.Merge(base, s)
	}
	layers := []policy.Settings{base}
	if len(override) > 0 && string(override) != "null" {
		s, err := policy.DecodeSettings(override)
		if err != nil {
			return nil, fmt.Errorf("policy override: %w", err)
		}
		layers = append(layers, s)
	}
	eff, err := policy.Effective(layers...)
	if err != nil {
		return nil, err
	}
	return json.Marshal(eff)
}
