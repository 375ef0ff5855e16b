package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/graft"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// ErrGraftRefused is the error type of a graft that is unsafe (activities/graft's rules):
// the patch offers the rebuild strategy instead.
const ErrGraftRefused = "GraftRefused"

// GraftsDir is where a security tag's commit holds its grafts (grafts.nix, graft.sh,
// grafts.json); the collection's package set applies them (testdata/demo/default.nix).
const GraftsDir = "grafts"

// SecurityTagSummary is the JSON part of a security tag's message.
type SecurityTagSummary struct {
	Schema   string      `json:"schema"` // crest.security-tag/v1
	Tag      string      `json:"tag"`
	Covers   string      `json:"covers"`
	Package  string      `json:"package"`
	Ref      string      `json:"ref"`
	Advisory string      `json:"advisory,omitempty"`
	Severity string      `json:"severity"`
	Strategy string      `json:"strategy"`
	Reason   string      `json:"reason"`
	System   string      `json:"system"`
	Patched  GraftedPath `json:"patched"`
	// PatchedOn is the patched package on the collection's other systems (grafts).
	PatchedOn []GraftedPath  `json:"patched_on,omitempty"`
	Grafts    []GraftedPath  `json:"grafts"`
	Skipped   map[string]int `json:"skipped,omitempty"`
	// OldVersion and NewVersion are the patched package's, in the covered tag and with the
	// fix.
	OldVersion string `json:"old_version,omitempty"`
	NewVersion string `json:"new_version,omitempty"`
	// Rebuilt lists the packages a rebuild built from source against the fix (a rebuild
	// has no grafts).
	Rebuilt []string `json:"rebuilt,omitempty"`
	// Wave is the major wave that re-verifies the fix (duplicate-wave), WaveTags its tags
	// once it finished. Unfinished marks the tag of the fix pushed before: merged, not yet
	// built or tested.
	Wave       string   `json:"wave,omitempty"`
	WaveTags   []string `json:"wave_tags,omitempty"`
	Unfinished bool     `json:"unfinished,omitempty"`
	// SystemTests are the collection's system tests (PACKAGE.TEST) that passed on the
	// grafts before the tag was made.
	SystemTests []string `json:"system_tests,omitempty"`
	// Settled lists the root causes of a rebuild's failures and how each was settled
	// (fixed by a retry, wont-fix, cant-fix, marked-broken), their dependents following.
	Settled []wire.Failure `json:"settled,omitempty"`
	// Base is the commit the fix was merged onto, Merged the fix merged there without
	// grafts: what a later patch of another package stacks on (stackOn). Carries lists
	// the earlier fixes of other packages the tag carries on, Stacked (grafts) each
	// carried package's output in the covered tag and with its fix, grafted onto as
	// Patched is.
	Base    string            `json:"base,omitempty"`
	Merged  string            `json:"merged,omitempty"`
	Carries []wire.CarriedFix `json:"carries,omitempty"`
	Stacked []GraftedPath     `json:"stacked,omitempty"`
}

// newSummary starts the summary of the security tag of in.
func newSummary(in wire.GraftsInput, oldVersion, newVersion string) SecurityTagSummary {
	return SecurityTagSummary{Schema: "crest.security-tag/v1", Tag: in.Prepared.Name, Covers: in.Tag.Tag, Package: in.Package,
		Ref: in.Ref, Advisory: in.Advisory, Severity: in.Severity, Strategy: in.Strategy, Reason: in.Reason,
		System: in.Tag.System, Patched: GraftedPath{Package: in.Package}, Grafts: []GraftedPath{},
		OldVersion: oldVersion, NewVersion: newVersion, Base: cmp.Or(in.Prepared.Base, in.Tag.Commit), Merged: in.Prepared.Commit,
		Carries: in.Prepared.Carries}
}

// GraftedPath is one package's output before and after the patch (on System, in the
// summary of a tag of several systems).
type GraftedPath struct {
	Package string `json:"package"`
	Old     string `json:"old"`
	New     string `json:"new"`
	System  string `json:"system,omitempty"`
}

// ValidatePatch checks a patch before anything is allocated and names every problem at
// once: an unknown collection, strategy or severity, a ref
// missing from the collection's repository, an unknown package (with suggestions), tags
// that are not finished tags of the collection or do not contain the package. By default a
// patch covers every finished tag whose evaluation contains the package.
func (a *Activities) ValidatePatch(ctx context.Context, in wire.ValidatePatchInput) (wire.ValidatePatchResult, error) {
	var out wire.ValidatePatchResult
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	var problems []string
	strategy := policy.Strategy(in.Strategy)
	switch strategy {
	case policy.StrategyAuto, policy.StrategyReplaceDependency, policy.StrategyRebuild, policy.StrategyDuplicateWave:
	default:
		problems = append(problems, fmt.Sprintf("strategy %q: want auto, replace-dependency, rebuild or duplicate-wave", in.Strategy))
	}
	if d := policy.ChooseStrategy(policy.StrategyInput{Package: in.Package, Severity: policy.Severity(in.Severity),
		Requested: policy.StrategyRebuild}); d.Refused {
		problems = append(problems, d.Reason)
	}
	if in.Ref == "" {
		problems = append(problems, "ref: required (the branch, tag or commit with the fix)")
	} else {
		repo, err := a.Repos.Open(ctx, col)
		if err != nil {
			return out, err
		}
		// A fix is usually pushed moments before its patch starts.
		if err := repo.Fetch(ctx); err != nil {
			return out, err
		}
		if _, err = repo.ResolveRef(ctx, in.Ref); errors.Is(err, gitrepo.ErrRefNotFound) {
			problems = append(problems, fmt.Sprintf("ref %q not found in %s", in.Ref, gitrepo.RedactURL(col.Remote)))
		} else if err != nil {
			return out, err
		}
	}
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	tags, err := a.Store.Tags(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	slices.Reverse(tags) // oldest first
	byName := map[string]store.Tag{}
	for _, t := range tags {
		byName[t.Name] = t
	}
	want := in.Tags
	var waves []string // running major waves named in Tags, as `crest wave status` names them
	if len(want) == 0 {
		for _, t := range tags {
			want = append(want, t.Name)
		}
	} else {
		for _, name := range want {
			if _, ok := byName[name]; ok {
				continue
			}
			if _, minor, ok := wavename.Parse(col.TagPrefix, name); ok && minor == 0 {
				waves = append(waves, name)
				continue
			}
			problems = append(problems, fmt.Sprintf("tag %s: not a finished tag or a running wave of %s", name, col.Name))
		}
	}
	if len(tags) == 0 && len(waves) == 0 {
		problems = append(problems, fmt.Sprintf("%s has no finished tag to patch", col.Name))
	}
	var unknown string
	for _, name := range want {
		t, ok := byName[name]
		if !ok {
			continue
		}
		evals, err := a.Store.EvaluationsAt(ctx, row.ID, t.Commit)
		if err != nil {
			return out, err
		}
		slices.SortStableFunc(evals, func(a, b store.Evaluation) int { // the collection's order of systems
			return slices.Index(col.Systems, a.System) - slices.Index(col.Systems, b.System)
		})
		for _, ev := range evals { // one covered tag per system
			if !slices.Contains(col.Systems, ev.System) {
				continue
			}
			g, err := a.loadGraph(ctx, ev.ID)
			if err != nil {
				return out, err
			}
			key, err := g.Resolve(in.Package)
			if err != nil {
				unknown = err.Error()
				if len(in.Tags) > 0 {
					problems = append(problems, fmt.Sprintf("tag %s: %v", name, err))
				}
				continue
			}
			waveID, err := a.Store.WaveOfMinor(ctx, t.MinorWaveID)
			if err != nil {
				return out, err
			}
			out.Package = key
			out.Tags = append(out.Tags, wire.CoveredTag{Tag: t.Name, Commit: t.Commit, WaveID: waveID, System: ev.System, EvaluationID: ev.ID})
		}
	}
	if len(waves) > 0 {
		why, err := a.namedRunningWaves(ctx, col, row.ID, in.Package, waves, &out)
		if err != nil {
			return out, err
		}
		problems = append(problems, why...)
	}
	if len(out.Tags) == 0 && len(in.Tags) == 0 && len(tags) > 0 {
		if unknown == "" {
			unknown = fmt.Sprintf("package %s: in no finished tag of %s", in.Package, col.Name)
		}
		problems = append(problems, unknown)
	}
	if len(problems) > 0 {
		return out, invalid("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// namedRunningWaves checks the running major waves a patch's --tags names (wave-N) and
// adds them to out.Running: each must be running and have the package in its base, which
// is where the patch merges its fix (the waves PatchRunningWaves lists). The package is
// resolved in each wave's base evaluation, so a patch may name running waves only. It
// returns why a named wave cannot be patched.
func (a *Activities) namedRunningWaves(ctx context.Context, col wire.Collection, collectionID int64, pkg string, names []string, out *wire.ValidatePatchResult) ([]string, error) {
	var problems []string
	var ids []int64 // of the named waves that can take the fix
	for _, name := range names {
		number, _, _ := wavename.Parse(col.TagPrefix, name)
		w, err := a.Store.WaveByNumber(ctx, col.Name, number)
		if errors.Is(err, store.ErrNotFound) {
			problems = append(problems, fmt.Sprintf("tag %s: not a finished tag or a running wave of %s", name, col.Name))
			continue
		} else if err != nil {
			return nil, err
		}
		switch w.State {
		case "done", "failed", "cancelled":
			problems = append(problems, fmt.Sprintf("%s: not running (it is %s): --tags names finished tags and running waves", name, w.State))
			continue
		}
		evals, err := a.Store.EvaluationsAt(ctx, collectionID, w.BaseCommit)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(evals, func(ev store.Evaluation) bool { return ev.System == col.Systems[0] })
		if w.BaseCommit == "" || i < 0 {
			problems = append(problems, fmt.Sprintf("%s: still starting (its base is not evaluated yet); try again in a moment", name))
			continue
		}
		g, err := a.loadGraph(ctx, evals[i].ID)
		if err != nil {
			return nil, err
		}
		key, err := g.Resolve(pkg)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: its base does not have the package: %v", name, err))
			continue
		}
		out.Package = key
		ids = append(ids, w.ID)
	}
	if len(ids) == 0 {
		return problems, nil
	}
	running, err := a.PatchRunningWaves(ctx, wire.RunningWavesInput{Collection: col.Name, Package: out.Package})
	if err != nil {
		return nil, err
	}
	for _, w := range running {
		if slices.Contains(ids, w.WaveID) {
			out.Running = append(out.Running, w)
		}
	}
	if len(out.Running) < len(ids) {
		problems = append(problems, fmt.Sprintf("a wave named in --tags ended or does not have %s in its base", out.Package))
	}
	return problems, nil
}

// StartPatch registers a patch (idempotent by workflow ID) with its audit entry.
func (a *Activities) StartPatch(ctx context.Context, in wire.StartPatchInput) (int64, error) {
	actor := "crest"
	if in.By != "" {
		actor = "person:" + in.By
	}
	p, err := a.Store.CreatePatch(ctx, store.Patch{Collection: in.Collection, WorkflowID: in.WorkflowID, Package: in.Package,
		Ref: in.Ref, Strategy: in.Strategy, Severity: in.Severity, Advisory: in.Advisory, Reason: "merging the fix onto the covered tags"},
		store.AuditEntry{Key: in.WorkflowID + "/start", Actor: actor, Package: in.Package, Action: "patch-started",
			Reason: fmt.Sprintf("%s from %s, severity %s, strategy %s %s", in.Package, in.Ref, in.Severity, in.Strategy, in.Advisory)})
	return p.ID, err
}

// PreparePatchTag allocates the security tag of a covered tag, merges the patch ref onto
// the tag's commit on the tag's own branch (security/<tag>-security-K) and pushes it.
// Idempotent: a merged branch is left as it is.
func (a *Activities) PreparePatchTag(ctx context.Context, in wire.PreparePatchTagInput) (wire.PreparedPatchTag, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return wire.PreparedPatchTag{}, err
	}
	pt, err := a.Store.StartPatchTag(ctx, in.PatchID, in.Tag.Tag)
	if err != nil {
		return wire.PreparedPatchTag{}, err
	}
	defer keepAlive(ctx, "merging "+in.Ref+" onto "+in.Tag.Tag)()
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return wire.PreparedPatchTag{}, err
	}
	base, carries, newest, err := a.stackOn(ctx, repo, in)
	if err != nil {
		return wire.PreparedPatchTag{}, err
	}
	if _, err := repo.PrepareBranch(ctx, pt.Branch, base); err != nil {
		return wire.PreparedPatchTag{}, err
	}
	head, err := repo.Merge(ctx, pt.Branch, in.Ref, fmt.Sprintf("%s: merge %s (security fix of %s)", pt.Name, in.Ref, in.Package))
	var conflict *gitrepo.ConflictError
	switch {
	case errors.As(err, &conflict):
		return wire.PreparedPatchTag{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s does not merge onto %s: conflicts in %s", in.Ref, in.Tag.Tag, strings.Join(conflict.Files, ", ")),
			wire.ErrMergeConflict, err)
	case errors.Is(err, gitrepo.ErrRefNotFound):
		return wire.PreparedPatchTag{}, invalid("ref %q not found in %s", in.Ref, gitrepo.RedactURL(col.Remote))
	case err != nil:
		return wire.PreparedPatchTag{}, err
	}
	lines, err := repo.ChangedLines(ctx, base, head)
	if err != nil {
		return wire.PreparedPatchTag{}, err
	}
	if err := repo.Push(ctx, pt.Branch); err != nil {
		return wire.PreparedPatchTag{}, err
	}
	out := wire.PreparedPatchTag{Name: pt.Name, Branch: pt.Branch, Commit: head, ChangedLines: lines, Carries: carries,
		Stacks: true, Newest: newest}
	if base != in.Tag.Commit {
		out.Base = base
	}
	return out, nil
}

// stackOn finds what a patch merges its fix onto for a covered tag, so that security
// fixes of different packages stack: crest pin answers a tag's newest security tag, and
// one made from the covered tag alone would take the earlier fixes away from everyone who
// pins it. Without a security tag it is the covered tag's commit. Otherwise it is the
// newest security tag's fixes merged without their grafts (its summary's Merged; the
// parent of the grafts' commit for a tag older than stacking), and the new tag carries
// its fix and the ones it carried (Carries); planGrafts grafts onto all of them. A later
// fix of the same package replaces the earlier one: it is merged onto what the earlier
// one was merged onto, and carries only the others.
func (a *Activities) stackOn(ctx context.Context, repo *gitrepo.Repo, in wire.PreparePatchTagInput) (base string, carries []wire.CarriedFix, newest string, err error) {
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return "", nil, "", err
	}
	sec, err := a.Store.NewestSecurityTag(ctx, row.ID, in.Tag.Tag)
	if errors.Is(err, store.ErrNotFound) {
		return in.Tag.Commit, nil, "", nil
	} else if err != nil {
		return "", nil, "", err
	}
	var sum SecurityTagSummary
	if err := json.Unmarshal(sec.Summary, &sum); err != nil {
		return "", nil, "", fmt.Errorf("summary of %s: %w", sec.Name, err)
	}
	base = cmp.Or(sum.Base, in.Tag.Commit)
	carries = slices.DeleteFunc(slices.Clone(sum.Carries), func(c wire.CarriedFix) bool { return c.Package == in.Package })
	if sec.Package != in.Package {
		carries = append(carries, wire.CarriedFix{Package: sec.Package, Ref: sec.Ref, Tag: sec.Name})
		if base = sum.Merged; base == "" {
			if base, err = repo.Ungrafted(ctx, sec.Commit, GraftsDir); err != nil {
				return "", nil, "", fmt.Errorf("the fixes of %s: %w", sec.Name, err)
			}
		}
	}
	if len(carries) == 0 {
		base = in.Tag.Commit
	}
	return base, carries, sec.Name, nil
}

// stillNewest refuses to make the security tag of in when another security tag of the
// covered tag was made since its fix was merged (another patch ran alongside): the new
// tag, the newest, would drop that one's fix. Starting the patch again stacks on it.
func (a *Activities) stillNewest(ctx context.Context, in wire.GraftsInput) error {
	if !in.Prepared.Stacks {
		return nil // prepared before fixes stacked
	}
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return err
	}
	sec, err := a.Store.NewestSecurityTag(ctx, row.ID, in.Tag.Tag)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case sec.Name == in.Prepared.Newest || sec.Name == in.Prepared.Name:
		return nil
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"%s was tagged while this patch ran (the fix of %s from %s); %s would drop it for everyone who pins %s: start the patch again to stack on it",
		sec.Name, sec.Package, sec.Ref, in.Prepared.Name, in.Tag.Tag), wire.ErrMergeConflict, nil)
}

// nixBuilder is this worker's Nix builder, found through builders that wrap it (Unwrap),
// as errors.Unwrap finds a wrapped error: grafts run Nix itself.
func (a *Activities) nixBuilder() (NixBuilder, bool) {
	b := a.Builder
	for {
		switch v := b.(type) {
		case NixBuilder:
			return v, v.Nix != nil
		case interface{ Unwrap() Builder }:
			b = v.Unwrap()
		default:
			return NixBuilder{}, false
		}
	}
}

// grafter is the graft adapter on this worker's Nix, and the Nix builder it runs with.
func (a *Activities) grafter() (graft.Nix, NixBuilder, error) {
	b, ok := a.nixBuilder()
	if !ok {
		return graft.Nix{}, b, fmt.Errorf("grafts need the Nix builder, and this worker builds with %T", a.Builder)
	}
	cfg := b.Nix.Config()
	n := graft.Nix{BinDir: cfg.BinDir}
	for _, o := range cfg.Options {
		n.Options = append(n.Options, graft.Option{Name: o.Name, Value: o.Value})
	}
	return n, b, nil
}

// graftPlan is the grafts of a covered tag, dependencies first.
type graftPlan struct {
	facts wire.GraftFacts
	old   GraftedPath // the patched package
	drv   string      // the patched package's derivation
	// stacked are the earlier fixes the tag carries (wire.PreparedPatchTag.Carries): each
	// carried package's output in the covered tag and with its fix, grafted onto as the
	// patched package is.
	stacked []GraftedPath
	grafts  []graft.Graft
	// debt is each graft's root: the patched or carried package whose fix it carries
	// (the patched package when it carries several), its derivation with the fix and its
	// version in the covered tag.
	debt    []graftRoot
	skipped int
	unsafe  *graft.UnsafeError
}

// graftRoot is a package whose fixed output grafts rewrite references to.
type graftRoot struct {
	pkg, drv, version string
}

// planGrafts computes the grafts of a covered tag: every package of the reverse closure
// in the tag of the patched package and of the earlier fixes it carries (dependencies
// first) whose output refers to one of their old outputs, or to the output of a package
// grafted before it, is grafted (activities/graft decides, with the embedding and
// name-length rules). The patched and carried packages themselves are their builds with
// the fixes, not grafts. The tag's outputs are realised first: on the machine that built
// the tag they are there already; elsewhere Nix fetches them from the collection's binary
// cache; so are the carried packages' outputs with their fixes, built by the patches that
// made them.
func (a *Activities) planGrafts(ctx context.Context, in wire.GraftsInput) (graftPlan, error) {
	if plan, ok := plans.get(planKey(in)); ok {
		return plan, nil
	}
	plan, err := a.computeGrafts(ctx, in)
	if err == nil {
		plans.put(planKey(in), plan)
	}
	return plan, err
}

// planKey names the grafts of in by what they are a function of.
func planKey(in wire.GraftsInput) string {
	key, _ := json.Marshal([]any{in.Collection, in.Package, in.Tag.Commit, in.Tag.System, in.Prepared.Commit, in.Prepared.Carries,
		in.PatchedOutputs}) // strings and slices of them: cannot fail
	return string(key)
}

// plans keeps the last grafts computed: CheckGrafts, CommitGrafts and TagGrafts of one
// covered tag ask for the same ones in turn, and checking every dependent's output again
// costs about a second on the demo and minutes on a large closure. A plan is a function
// of what the key names (the tag's and the merged commit's trees, the patched outputs):
// the same key gives the same grafts on any worker and store, so a worker without it
// computes it again. Only the rebuild cost in its facts reads the store, and only
// CheckGrafts, the first to ask, uses it.
var plans = &planCache{max: 16}

// A plan whose grafts failed to realise or commit is forgotten (forget): the retry
// computes it again, realising the tag's outputs first (a garbage collection may have
// taken them meanwhile).
//
// planCache is a small cache of graft plans, oldest dropped first.
type planCache struct {
	mu    sync.Mutex
	max   int
	keys  []string
	plans map[string]graftPlan
}

func (c *planCache) get(key string) (graftPlan, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.plans[key]
	return p, ok
}

func (c *planCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.plans, key)
	c.keys = slices.DeleteFunc(c.keys, func(k string) bool { return k == key })
}

func (c *planCache) put(key string, p graftPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[string]graftPlan{}
	}
	if _, ok := c.plans[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.plans[key] = p
	for len(c.keys) > c.max {
		delete(c.plans, c.keys[0])
		c.keys = c.keys[1:]
	}
}

// computeGrafts is planGrafts without its cache.
func (a *Activities) computeGrafts(ctx context.Context, in wire.GraftsInput) (graftPlan, error) {
	var plan graftPlan
	n, b, err := a.grafter()
	if err != nil {
		return plan, err
	}
	tagGraph, patchedGraph, err := a.patchGraphs(ctx, in)
	if err != nil {
		return plan, err
	}
	if len(in.PatchedOutputs) == 0 {
		return plan, fmt.Errorf("graft %s: the patched build has no outputs", in.Package)
	}
	roots := []string{in.Package}
	for _, c := range in.Prepared.Carries {
		roots = append(roots, c.Package)
	}
	var fixed []graftRoot
	var carriedDrvs []string
	for i, k := range roots {
		oldPkg, ok := tagGraph.Package(k)
		if !ok {
			return plan, invalid("package %s: not in %s", k, in.Tag.Tag)
		}
		newPkg, ok := patchedGraph.Package(k)
		if !ok {
			return plan, invalid("package %s: not in %s merged with %s", k, in.Tag.Tag, in.Ref)
		}
		fixed = append(fixed, graftRoot{pkg: k, drv: newPkg.Drv, version: oldPkg.Version})
		if i == 0 {
			plan.drv = newPkg.Drv
			plan.facts.OldVersion, plan.facts.NewVersion = oldPkg.Version, newPkg.Version
		} else {
			carriedDrvs = append(carriedDrvs, newPkg.Drv)
		}
	}
	var closure []string
	for _, r := range roots {
		c, err := tagGraph.ReverseClosure(r)
		if err != nil {
			return plan, err
		}
		closure = append(closure, c...)
	}
	slices.Sort(closure)
	closure = slices.Compact(closure)
	// The tag's outputs of the roots and their reverse closure, in one nix-store run: a
	// no-op where the tag was built; elsewhere Nix fetches them from the binary cache.
	var keys, drvs []string
	for _, k := range closure {
		if p, _ := tagGraph.Package(k); !p.Broken {
			keys, drvs = append(keys, k), append(drvs, p.Drv)
		}
	}
	activity.RecordHeartbeat(ctx, fmt.Sprintf("outputs of %d packages in %s", len(drvs), in.Tag.Tag))
	res, err := b.Nix.RealiseAll(ctx, drvs, nix.RealiseOptions{})
	if err != nil {
		return plan, fmt.Errorf("outputs of %s's reverse closure in %s: %w", strings.Join(roots, " and "), in.Tag.Tag, err)
	}
	if len(res.Outputs) != len(drvs) {
		return plan, fmt.Errorf("graft %s: its reverse closure has packages with several outputs; their grafts are not built yet", in.Package)
	}
	outputs := map[string]string{}
	for i, k := range keys {
		outputs[k] = res.Outputs[i]
	}
	output := func(key string) (string, error) {
		if o, ok := outputs[key]; ok {
			return o, nil
		}
		return "", fmt.Errorf("graft %s: no output of %s in %s", in.Package, key, in.Tag.Tag)
	}
	newPaths := []string{in.PatchedOutputs[0]}
	if len(carriedDrvs) > 0 {
		activity.RecordHeartbeat(ctx, fmt.Sprintf("outputs of the %d fixes %s carries", len(carriedDrvs), in.Prepared.Name))
		carried, err := b.Nix.RealiseAll(ctx, carriedDrvs, nix.RealiseOptions{})
		if err != nil {
			return plan, fmt.Errorf("the earlier fixes %s carries: %w", in.Prepared.Name, err)
		}
		if len(carried.Outputs) != len(carriedDrvs) {
			return plan, fmt.Errorf("graft %s: a package it carries has several outputs; its grafts are not built yet", in.Package)
		}
		newPaths = append(newPaths, carried.Outputs...)
	}
	plan.facts.Graft.SameNameLength = true
	var base []graft.Replacement
	rootOf := map[string]int{} // an old path → the index in fixed of the root its replacement carries
	for i, r := range roots {
		oldPath, err := output(r)
		if err != nil {
			return plan, err
		}
		gp := GraftedPath{Package: r, Old: oldPath, New: newPaths[i]}
		if i == 0 {
			plan.old = gp
		} else {
			plan.stacked = append(plan.stacked, gp)
		}
		if len(filepath.Base(oldPath)) != len(filepath.Base(gp.New)) {
			plan.facts.Graft.SameNameLength = false
		}
		base = append(base, graft.Replacement{Old: oldPath, New: gp.New})
		rootOf[oldPath] = i
	}

	plan.facts.ReverseClosure = len(closure)
	cost, err := a.costModel(ctx, in.Tag.System, closure)
	if err != nil {
		return plan, err
	}
	for _, k := range closure {
		p, _ := tagGraph.Package(k)
		plan.facts.RebuildSeconds += cost.Seconds(p, tagGraph)
	}
	dependents := slices.DeleteFunc(slices.Clone(closure), func(k string) bool { return slices.Contains(roots, k) })
	sub, err := tagGraph.Subgraph(dependents)
	if err != nil {
		return plan, err
	}
	sg, _, err := graph.New(sub, graph.Options{Lenient: true})
	if err != nil {
		return plan, err
	}
	grafted := map[string]string{} // package → its old output, for grafts of grafts
	var order []string
	for _, layer := range sg.Layers() {
		order = append(order, layer...)
	}
	for _, k := range order {
		p, _ := tagGraph.Package(k)
		if p.Broken {
			continue
		}
		path, err := output(k)
		if err != nil {
			return plan, err
		}
		g := graft.Graft{Package: k, Path: path, Replacements: slices.Clone(base)}
		for _, dep := range slices.Sorted(maps.Keys(grafted)) {
			g.Replacements = append(g.Replacements, graft.Replacement{Old: grafted[dep], Graft: dep})
		}
		activity.RecordHeartbeat(ctx, "checking the graft of "+k)
		v, err := n.Check(ctx, g)
		var unsafe *graft.UnsafeError
		if errors.As(err, &unsafe) {
			if plan.unsafe == nil {
				plan.unsafe = unsafe
				plan.facts.Unsafe = unsafe.Error()
			}
			switch unsafe.Rule {
			case graft.RuleNameLength:
				plan.facts.Graft.SameNameLength = false
			case graft.RuleEmbedded:
				plan.facts.Graft.EmbeddedBy = append(plan.facts.Graft.EmbeddedBy, k)
			}
			continue
		}
		if err != nil {
			return plan, err
		}
		if v.Action == graft.ActionSkip {
			plan.skipped++
			continue
		}
		// Its root: the patched package if any replacement carries its fix, else the
		// first carried one it refers to, directly or through a graft.
		root := len(fixed)
		for _, r := range v.Graft.Replacements {
			i, ok := rootOf[r.Old]
			if !ok {
				continue
			}
			root = min(root, i)
		}
		grafted[k] = path
		rootOf[path] = root
		plan.grafts = append(plan.grafts, v.Graft)
		plan.debt = append(plan.debt, fixed[min(root, len(fixed)-1)])
	}
	plan.facts.Grafts = len(plan.grafts)
	return plan, nil
}

// patchGraphs loads the package graphs of a covered tag and of the fix merged onto it.
func (a *Activities) patchGraphs(ctx context.Context, in wire.GraftsInput) (tag, patched *graph.Graph, err error) {
	if tag, err = a.loadGraph(ctx, in.Tag.EvaluationID); err != nil {
		return nil, nil, err
	}
	patched, err = a.loadGraph(ctx, in.PatchedEvaluation)
	return tag, patched, err
}

// CheckGrafts finds what policy.ChooseStrategy needs to know about a covered tag: whether
// its dependents can be grafted onto the patched package (the first refusal's reason), the
// versions, and the rebuild cost of the reverse closure.
func (a *Activities) CheckGrafts(ctx context.Context, in wire.GraftsInput) (wire.GraftFacts, error) {
	plan, err := a.planGrafts(ctx, in)
	return plan.facts, err
}

// graftedTag is a covered tag's grafts written into the collection: what TagGrafts tags.
type graftedTag struct {
	plan   graftPlan
	sum    SecurityTagSummary
	debt   []store.GraftDebt
	commit string
	repo   *gitrepo.Repo
}

// commitGrafts writes the grafts of a covered tag (grafts.nix, graft.sh, grafts.json under
// GraftsDir) onto the merged commit and realises every graft (no dependent is built from
// source: a graft's builder rewrites the tag's output). An unsafe graft is a
// non-retryable GraftRefused error naming the rule and the rebuild strategy. Idempotent:
// the same grafts committed already leave the branch as it is.
func (a *Activities) commitGrafts(ctx context.Context, in wire.GraftsInput) (out graftedTag, err error) {
	systems := in.PerSystem()
	several := len(systems) > 1
	per := make([]graftPlan, len(systems))
	defer func() {
		if err != nil {
			for _, sin := range systems {
				plans.forget(planKey(sin))
			}
		}
	}()
	var all []graft.Graft // every system's, each marked with its system when there are several
	for i, sin := range systems {
		if per[i], err = a.planGrafts(ctx, sin); err != nil {
			return out, err
		}
		if u := per[i].unsafe; u != nil {
			on := ""
			if several {
				on = " on " + sin.Tag.System
			}
			return out, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s%s: %s (rule %s); use --strategy rebuild", in.Tag.Tag, on, u.Error(), u.Rule), ErrGraftRefused, nil)
		}
		for _, g := range per[i].grafts {
			if several {
				g.System = sin.Tag.System
			}
			all = append(all, g)
		}
	}
	plan := per[0]
	out.plan = plan
	n, b, err := a.grafter()
	if err != nil {
		return out, err
	}
	dir, err := os.MkdirTemp("", "crest-grafts-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	if err := graft.WriteExpression(dir, all); err != nil {
		return out, err
	}
	out.sum = newSummary(in, plan.facts.OldVersion, plan.facts.NewVersion)
	out.sum.Patched, out.sum.Stacked = plan.old, plan.stacked
	skipped := 0
	for i, sin := range systems {
		p := per[i]
		skipped += p.skipped
		if i > 0 {
			patched := p.old
			patched.System = sin.Tag.System
			out.sum.PatchedOn = append(out.sum.PatchedOn, patched)
		}
		if len(p.grafts) == 0 {
			continue
		}
		drvs, err := n.Instantiate(ctx, dir, sin.Tag.System, b.Nix.Config().BuilderPath)
		if err != nil {
			return out, err
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("grafting %d packages on %s", len(p.grafts), sin.Tag.System))
		list := make([]string, len(p.grafts))
		for j, g := range p.grafts {
			list[j] = drvs[g.Package]
		}
		outs, err := n.RealiseAll(ctx, list)
		if err != nil {
			return out, err
		}
		for j, g := range p.grafts {
			gp := GraftedPath{Package: g.Package, Old: g.Path, New: outs[j]}
			if several {
				gp.System = sin.Tag.System
			}
			out.sum.Grafts = append(out.sum.Grafts, gp)
			root := p.debt[j]
			out.debt = append(out.debt, store.GraftDebt{WaveID: in.Tag.WaveID, System: sin.Tag.System, Package: g.Package,
				PatchedPackage: root.pkg, PatchedDrv: root.drv, VulnerableVersion: root.version, OldPath: g.Path, NewPath: outs[j]})
		}
	}
	if skipped > 0 {
		out.sum.Skipped = map[string]int{"no reference to the old outputs": skipped}
	}
	files := map[string][]byte{}
	for _, name := range []string{"grafts.nix", "graft.sh", "grafts.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return out, err
		}
		files[GraftsDir+"/"+name] = b
	}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	if out.repo, err = a.Repos.Open(ctx, col); err != nil {
		return out, err
	}
	out.commit, err = out.repo.CommitFiles(ctx, in.Prepared.Branch, files, fmt.Sprintf("%s: graft %d dependents onto %s %s\n\n%s\n",
		in.Prepared.Name, len(all), in.Package, plan.facts.NewVersion, in.Reason))
	return out, err
}

// CommitGrafts commits the grafts of a covered tag onto the branch of its security tag
// (commitGrafts) and pushes the branch, so that the collection at that commit is the tag
// as it will be, grafts applied, and returns which of the collection's system tests
// (wire.Collection.SystemTests) are of grafted packages: those must pass on the grafts
// before the tag is made. A system test its package does not have is bad configuration,
// refused by name. Idempotent.
func (a *Activities) CommitGrafts(ctx context.Context, in wire.GraftsInput) (wire.GraftedCommit, error) {
	g, err := a.commitGrafts(ctx, in)
	if err != nil {
		return wire.GraftedCommit{}, err
	}
	if err := g.repo.Push(ctx, in.Prepared.Branch); err != nil {
		return wire.GraftedCommit{}, err
	}
	out := wire.GraftedCommit{Commit: g.commit, Grafts: len(g.sum.Grafts)}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil || len(col.SystemTests) == 0 || len(g.sum.Grafts) == 0 {
		return out, err
	}
	patched, err := a.loadGraph(ctx, in.PatchedEvaluation)
	if err != nil {
		return out, err
	}
	var problems []string
	for _, name := range col.SystemTests {
		t, err := wire.ParseSystemTest(name)
		if err != nil {
			problems = append(problems, "system_tests: "+err.Error())
			continue
		}
		if !slices.ContainsFunc(g.sum.Grafts, func(p GraftedPath) bool { return p.Package == t.Package }) {
			continue // not grafted: its output and its tests' are the tag's
		}
		p, _ := patched.Package(t.Package)
		if !slices.ContainsFunc(p.Tests, func(pt graph.Test) bool { return pt.Name == t.Test }) {
			var names []string
			for _, pt := range p.Tests {
				names = append(names, pt.Name)
			}
			problems = append(problems, fmt.Sprintf("system test %s of collection %s: %s has no test %s in %s (its tests: %s)",
				t, col.Name, t.Package, t.Test, in.Prepared.Name, strings.Join(names, ", ")))
			continue
		}
		out.SystemTests = append(out.SystemTests, t)
	}
	if len(problems) > 0 {
		return out, invalid("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// RunSystemTests builds the packages of in.Tests as the evaluation has them (a security
// tag's grafts) and runs the tests named, on a builder, as BuildPackage builds: the test
// derivations of a grafted package run against its graft, since the collection's package
// set applies the grafts file (testdata/demo/default.nix). A test that fails, or whose
// package does not build, is a failure with its log tail, not an error; nothing is
// recorded as a build (the grafts are not built from source, and their few seconds must
// not price their packages in the cost model).
func (a *Activities) RunSystemTests(ctx context.Context, in wire.SystemTestsInput) (wire.SystemTestsResult, error) {
	var out wire.SystemTestsResult
	pkgs, err := a.Store.LoadPackages(ctx, in.EvaluationID)
	if err != nil {
		return out, err
	}
	byKey := map[string]graph.Package{}
	for _, p := range pkgs {
		byKey[p.Key] = p
	}
	var order []string // packages, in the order of their first test
	tests := map[string][]wire.SystemTest{}
	for _, t := range in.Tests {
		if _, ok := tests[t.Package]; !ok {
			order = append(order, t.Package)
		}
		tests[t.Package] = append(tests[t.Package], t)
	}
	started := time.Now()
	heartbeat := func() { activity.RecordHeartbeat(ctx, time.Since(started).Round(time.Second).String()) }
	for _, key := range order {
		p, ok := byKey[key]
		if !ok {
			return out, invalid("system test %s: no package %s in evaluation %d", tests[key][0], key, in.EvaluationID)
		}
		names := map[string]string{} // drv → PACKAGE.TEST
		var drvs []string
		for _, t := range tests[key] {
			i := slices.IndexFunc(p.Tests, func(pt graph.Test) bool { return pt.Name == t.Test })
			if i < 0 {
				return out, invalid("system test %s: %s has no test %s", t, key, t.Test)
			}
			names[p.Tests[i].Drv] = t.String()
			drvs = append(drvs, p.Tests[i].Drv)
		}
		res, err := a.Builder.Build(ctx, p.Drv, drvs, heartbeat)
		if IsUnknownDerivation(err) {
			// Evaluated elsewhere: instantiate the commit here, then build.
			if err = a.instantiate(ctx, wire.BuildInput{EvaluationID: in.EvaluationID, Collection: in.Collection}); err == nil {
				res, err = a.Builder.Build(ctx, p.Drv, drvs, heartbeat)
			}
		}
		if err != nil {
			return out, fmt.Errorf("system tests of %s: %w", key, err)
		}
		switch res.Status {
		case store.StatusPassed:
			for _, t := range tests[key] {
				out.Passed = append(out.Passed, t.String())
			}
		case store.StatusTestFailed:
			failed := cmp.Or(names[res.FailedTest], tests[key][0].String())
			out.Failures = append(out.Failures, wire.SystemTestFailure{Test: failed, LogTail: clip(res.LogTail, 4<<10)})
			for _, t := range tests[key] {
				if t.String() != failed {
					out.Passed = append(out.Passed, t.String()) // Nix stops at the first failure: the rest did not fail
				}
			}
		default:
			for _, t := range tests[key] {
				out.Failures = append(out.Failures, wire.SystemTestFailure{Test: t.String(),
					LogTail: clip(fmt.Sprintf("%s did not build:\n%s", key, res.LogTail), 4<<10)})
			}
		}
	}
	return out, nil
}

// TagGrafts makes the security tag of a covered tag with the replace-dependency strategy:
// it commits the grafts (commitGrafts: grafts.nix, graft.sh, grafts.json under GraftsDir,
// every graft realised), tags <tag>-security-K annotated with a JSON summary (advisory,
// strategy, the grafts with their old and new paths), pushes branch and tag, and records
// the tag and its grafts as debt, with the audit entry, in one transaction; the covered
// tag's outputs, the patched package's and the grafts are then rooted (Roots). An unsafe
// graft is a non-retryable GraftRefused error naming the rule and the rebuild strategy.
// Idempotent: a commit, tag or record made already is kept.
func (a *Activities) TagGrafts(ctx context.Context, in wire.GraftsInput) (wire.SecurityTagResult, error) {
	g, err := a.commitGrafts(ctx, in)
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	sum := g.sum
	var body strings.Builder
	fmt.Fprintf(&body, "%s of %s: %d grafts, nothing else rebuilt.\n", in.Strategy, in.Tag.Tag, len(sum.Grafts))
	for _, gp := range sum.Grafts {
		fmt.Fprintf(&body, "  %s: %s → %s\n", gp.Package, filepath.Base(gp.Old), filepath.Base(gp.New))
	}
	if len(in.SystemTests) > 0 {
		sum.SystemTests = slices.Clone(in.SystemTests)
		fmt.Fprintf(&body, "System tests passed on the grafts: %s.\n", strings.Join(in.SystemTests, ", "))
	}
	if _, err := a.pushSecurityTag(ctx, g.repo, in, securityTag{commit: g.commit, body: body.String(), sum: sum, debt: g.debt,
		audit: fmt.Sprintf("%s: %d grafts onto %s %s", in.Prepared.Name, len(sum.Grafts), in.Package, g.plan.facts.NewVersion)}); err != nil {
		return wire.SecurityTagResult{}, err
	}
	var pinned []string
	var evaluations []int64
	for _, sin := range in.PerSystem() {
		pinned = append(pinned, sin.PatchedOutputs...)
		evaluations = append(evaluations, sin.Tag.EvaluationID)
	}
	for _, gp := range sum.Grafts {
		pinned = append(pinned, gp.New)
	}
	if err := a.rootTag(ctx, in.Collection, in.Prepared.Name, store.RootSecurity, evaluations, pinned...); err != nil {
		return wire.SecurityTagResult{}, err
	}
	return wire.SecurityTagResult{Tag: in.Prepared.Name, Commit: g.commit, Grafts: len(sum.Grafts)}, nil
}

// tagging starts a security tag of in (a rebuild's, a duplicate wave's): its summary, with
// the patched package's versions in the covered tag and with the fix, and the collection's
// repository to tag in.
func (a *Activities) tagging(ctx context.Context, in wire.GraftsInput) (SecurityTagSummary, *gitrepo.Repo, error) {
	tagGraph, patched, err := a.patchGraphs(ctx, in)
	if err != nil {
		return SecurityTagSummary{}, nil, err
	}
	oldPkg, _ := tagGraph.Package(in.Package)
	newPkg, _ := patched.Package(in.Package)
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return SecurityTagSummary{}, nil, err
	}
	repo, err := a.Repos.Open(ctx, col)
	return newSummary(in, oldPkg.Version, newPkg.Version), repo, err
}

// securityTag is a security tag to push: its commit, the lines of its message between
// the headline and the JSON summary, and what the store records with it.
type securityTag struct {
	commit string
	body   string
	sum    SecurityTagSummary
	debt   []store.GraftDebt // the grafts it carries
	round  int64             // a rebuild's build round: the covered tag's debt it retires
	audit  string            // the audit entry's reason
}

// pushSecurityTag tags t.commit as the security tag of a covered tag, annotated with a
// headline (package, versions, advisory), t.body and the JSON summary, pushes the tag's
// branch and the tag, and records it with its debt and audit entry (RecordPatchTag). It
// returns how many grafts the tag retired. Both strategies that tag go through it.
func (a *Activities) pushSecurityTag(ctx context.Context, repo *gitrepo.Repo, in wire.GraftsInput, t securityTag) (int64, error) {
	doc, err := json.MarshalIndent(t.sum, "", "  ")
	if err != nil {
		return 0, err
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s: %s %s → %s", in.Prepared.Name, in.Package, t.sum.OldVersion, t.sum.NewVersion)
	if in.Advisory != "" {
		fmt.Fprintf(&msg, " (%s)", in.Advisory)
	}
	fmt.Fprintf(&msg, "\n\n%s", t.body)
	for _, c := range t.sum.Carries {
		fmt.Fprintf(&msg, "Carries the earlier fix of %s from %s (%s).\n", c.Package, c.Ref, c.Tag)
	}
	fmt.Fprintf(&msg, "\n%s\n", doc)
	if err := a.stillNewest(ctx, in); err != nil {
		return 0, err
	}
	if err := repo.Tag(ctx, in.Prepared.Name, t.commit, msg.String()); err != nil {
		return 0, err
	}
	if err := repo.Push(ctx, in.Prepared.Branch, "refs/tags/"+in.Prepared.Name); err != nil {
		return 0, err
	}
	return a.Store.RecordPatchTag(ctx, store.TaggedPatch{PatchID: in.PatchID, CoveredTag: in.Tag.Tag, Commit: t.commit,
		Summary: doc, Grafts: t.debt, Strategy: t.sum.Strategy, Name: in.Prepared.Name, MinorWaveID: t.round,
		Audit: store.AuditEntry{Key: in.WorkflowID + "/tag/" + in.Tag.Tag, Actor: "crest", Wave: in.Tag.Tag, Package: in.Package,
			Action: "security-tagged", Reason: t.audit, Details: doc}})
}

// RecordPatchState records a patch's state (and a covered tag that failed) with its
// reason in the audit log.
func (a *Activities) RecordPatchState(ctx context.Context, in wire.PatchStateInput) error {
	audit := store.AuditEntry{Key: in.WorkflowID + "/" + in.State + "/" + in.Tag, Actor: "crest", Wave: in.Tag,
		Action: "patch-" + in.State, Reason: in.Reason}
	if in.Tag != "" {
		if err := a.Store.FailPatchTag(ctx, in.PatchID, in.Tag, in.Reason, audit); err != nil {
			return err
		}
		audit.Key += "/patch"
	}
	return a.Store.SetPatchState(ctx, in.PatchID, in.State, in.Strategy, in.Reason, audit)
}
