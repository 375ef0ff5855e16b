package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// maxBlockedListed caps the dependents a Failure names in workflow history.
const maxBlockedListed = 10

// Summarize tallies a minor wave and lists its root causes.
func (a *Activities) Summarize(ctx context.Context, in wire.SummaryInput) (wire.Summary, error) {
	sum, _, err := a.summary(ctx, in.MinorWaveID)
	return capFailures(sum), err
}

// capFailures keeps at most MaxFailuresListed root causes in a summary bound for workflow
// history, the unresolved ones first (they are what people act on), and counts them all.
func capFailures(s wire.Summary) wire.Summary {
	s.RootCauses = len(s.Failures)
	if len(s.Failures) <= wire.MaxFailuresListed {
		return s
	}
	open := make([]wire.Failure, 0, wire.MaxFailuresListed)
	for _, f := range s.Failures {
		if f.Resolution == "" && len(open) < wire.MaxFailuresListed {
			open = append(open, f)
		}
	}
	for _, f := range s.Failures {
		if f.Resolution != "" && len(open) < wire.MaxFailuresListed {
			open = append(open, f)
		}
	}
	s.Failures = open
	return s
}

// summary reads a minor wave's counts and root causes once, for Summarize and for the
// tag, which also needs the root causes' issue fingerprints.
func (a *Activities) summary(ctx context.Context, minorWaveID int64) (wire.Summary, []store.RootCause, error) {
	counts, err := a.Store.MinorWaveCounts(ctx, minorWaveID)
	if err != nil {
		return wire.Summary{}, nil, err
	}
	roots, err := a.Store.RootCauses(ctx, minorWaveID)
	if err != nil {
		return wire.Summary{}, nil, err
	}
	out := wire.Summary{Counts: wire.Counts(counts)}
	for _, r := range roots {
		f := wire.Failure{System: r.System, Package: r.Package, Status: r.Status, Resolution: r.Resolution,
			Attempts: r.Attempts, Dependents: len(r.Dependents), Reason: r.Reason, Issue: r.Issue}
		f.Blocked = r.Dependents[:min(len(r.Dependents), maxBlockedListed)]
		out.Failures = append(out.Failures, f)
	}
	// Whether the minor wave may tag is policy's to say. While a package is pending or a
	// failure has no resolution it plainly may not, and reading every state of a large
	// minor wave on each summary would be wasted.
	if counts.Pending == 0 && counts.Unresolved == 0 {
		systems, err := a.Store.Systems(ctx, minorWaveID)
		if err != nil {
			return wire.Summary{}, nil, err
		}
		out.Settled = true
		for _, system := range systems {
			states, err := a.Store.States(ctx, minorWaveID, system)
			if err != nil {
				return wire.Summary{}, nil, err
			}
			ok, blocking := policy.Settled(states)
			out.Settled = out.Settled && ok
			for _, b := range blocking {
				if len(out.Blocking) < wire.MaxFailuresListed {
					out.Blocking = append(out.Blocking, b)
				}
			}
		}
	}
	return out, roots, nil
}

// Resolve settles a failed package (and the dependents it alone blocked) and records who
// decided and why.
func (a *Activities) Resolve(ctx context.Context, in wire.ResolveInput) (int, error) {
	settled, err := a.Store.Resolve(ctx, in.MinorWaveID, in.System, in.Package, in.Resolution, in.Reason)
	if errors.Is(err, store.ErrNotFound) {
		return 0, invalid("%v", err)
	}
	if err != nil {
		return 0, err
	}
	details, _ := json.Marshal(map[string]any{"resolution": in.Resolution, "dependents_settled": settled})
	_, err = a.Store.RecordAudit(ctx, store.AuditEntry{
		Key:   fmt.Sprintf("%s/%s/%s/resolve/%s", in.Wave, in.System, in.Package, in.Resolution),
		Actor: in.Actor, Wave: in.Wave, Package: in.Package, Action: "resolve:" + in.Resolution, Reason: in.Reason, Details: details,
	})
	return settled, err
}

// TagSummary is the machine-readable part of a wave tag's message.
type TagSummary struct {
	Schema      string         `json:"schema"` // crest.tag/v1
	Collection  string         `json:"collection"`
	Tag         string         `json:"tag"`
	Commit      string         `json:"commit"`
	Branch      string         `json:"branch"`
	Updates     []wire.Update  `json:"updates"`
	Evaluations []int64        `json:"evaluations"`
	Counts      wire.Counts    `json:"counts"`
	Failures    []wire.Failure `json:"failures,omitempty"` // every root cause and how it was settled
}

// TagMinorWave pins a settled minor wave: an annotated tag wave-N-M on its commit whose
// message ends with a JSON summary, pushed with the branch, and recorded with the minor
// wave's done state in one transaction. Idempotent.
func (a *Activities) TagMinorWave(ctx context.Context, in wire.TagInput) (wire.TagResult, error) {
	defer keepAlive(ctx, "tagging "+in.Name)()
	sum, roots, err := a.summary(ctx, in.MinorWaveID)
	if err != nil {
		return wire.TagResult{}, err
	}
	if !sum.Settled {
		why := fmt.Sprintf("%d unresolved, %d pending", sum.Counts.Unresolved, sum.Counts.Pending)
		if len(sum.Blocking) > 0 {
			why = strings.Join(sum.Blocking, "; ")
		}
		return wire.TagResult{}, invalid("%s is not settled: %s", in.Name, why)
	}
	t, collectionID, err := a.pushWaveTag(ctx, in, in.Name, "crest.tag/v1", tagMessage(in, sum), sum)
	if err != nil {
		return wire.TagResult{}, err
	}
	if err := a.Store.FinishMinorWave(ctx, collectionID, t); err != nil {
		return wire.TagResult{}, err
	}
	if err := a.rootTag(ctx, in.Collection, in.Name, store.RootFinished, in.Evaluations); err != nil {
		return wire.TagResult{}, err
	}
	// Fixed root causes close their issues; the others' resolutions are written there.
	if err := a.settleIssues(ctx, IssueReport{Collection: in.Collection, Major: in.Major, Minor: in.Minor,
		Commit: in.Commit, Branch: in.Branch}, roots); err != nil {
		return wire.TagResult{}, err
	}
	_, err = a.Store.RecordAudit(ctx, store.AuditEntry{Key: in.Name + "/tag", Actor: "crest", Wave: in.Name, Action: "tag",
		Reason: fmt.Sprintf("all %d packages settled: %d passed, %d resolved", sum.Counts.Total, sum.Counts.Passed, sum.Counts.Resolved)})
	return wire.TagResult{Tag: in.Name, Commit: in.Commit, Summary: capFailures(sum)}, err
}

// settleIssues writes how each root cause was settled to its issue (fixed closes it), once
// its minor wave or rebuild tags: each report is base (collection, wave, commit) with the
// root cause's own fields.
func (a *Activities) settleIssues(ctx context.Context, base IssueReport, roots []store.RootCause) error {
	for _, r := range roots {
		rep := base
		rep.Package, rep.System, rep.Status, rep.Attempt = r.Package, r.System, r.Status, r.Attempts
		rep.Drv, rep.LogTail, rep.Fingerprint = r.Drv, r.LogTail, r.Fingerprint
		if err := a.settleIssue(ctx, rep, r.Resolution, r.Reason); err != nil {
			return err
		}
	}
	return nil
}

// TagUnfinished pins a minor wave before it is settled, for those who accept less
// stability: an annotated tag (in.Tag, wave-N-Mpre) on its commit whose message says what
// is green and what still fails or waits, pushed and recorded apart from finished tags.
// Idempotent. It refuses a settled wave, which gets its real tag instead.
func (a *Activities) TagUnfinished(ctx context.Context, in wire.TagInput) (wire.TagResult, error) {
	defer keepAlive(ctx, "tagging "+in.Tag)()
	sum, _, err := a.summary(ctx, in.MinorWaveID)
	if err != nil {
		return wire.TagResult{}, err
	}
	if sum.Settled {
		return wire.TagResult{}, invalid("%s is settled: it gets its tag, not %s", in.Name, in.Tag)
	}
	t, collectionID, err := a.pushWaveTag(ctx, in, in.Tag, "crest.tag.unfinished/v1", unfinishedMessage(in, sum), sum)
	if err != nil {
		return wire.TagResult{}, err
	}
	if err := a.Store.RecordUnfinishedTag(ctx, collectionID, t); err != nil {
		return wire.TagResult{}, err
	}
	if err := a.rootTag(ctx, in.Collection, in.Tag, store.RootUnfinished, in.Evaluations); err != nil {
		return wire.TagResult{}, err
	}
	_, err = a.Store.RecordAudit(ctx, store.AuditEntry{Key: in.Tag + "/tag", Actor: "crest", Wave: in.Name, Action: "tag:unfinished",
		Reason: fmt.Sprintf("%s: builds done, %d of %d packages green, %d not settled", in.Tag, sum.Counts.Passed, sum.Counts.Total,
			sum.Counts.Unresolved+sum.Counts.Pending)})
	return wire.TagResult{Tag: in.Tag, Commit: in.Commit, Summary: capFailures(sum)}, err
}

// pushWaveTag pushes an annotated tag on in.Commit whose message is human followed by the
// machine-readable TagSummary (schema), and returns it as the store records it, with the
// collection's ID. Tagging and pushing again is harmless.
func (a *Activities) pushWaveTag(ctx context.Context, in wire.TagInput, tag, schema, human string, sum wire.Summary) (store.Tag, int64, error) {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return store.Tag{}, 0, err
	}
	row, err := a.Store.CollectionByName(ctx, in.Collection)
	if err != nil {
		return store.Tag{}, 0, err
	}
	ts := TagSummary{Schema: schema, Collection: in.Collection, Tag: tag, Commit: in.Commit, Branch: in.Branch,
		Updates: in.Updates, Evaluations: in.Evaluations, Counts: sum.Counts, Failures: sum.Failures}
	js, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return store.Tag{}, 0, err
	}
	message := human + "\n\n" + string(js) + "\n"
	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return store.Tag{}, 0, err
	}
	if err := repo.Tag(ctx, tag, in.Commit, message); err != nil {
		return store.Tag{}, 0, err
	}
	if err := repo.Push(ctx, in.Branch, "refs/tags/"+tag); err != nil {
		return store.Tag{}, 0, err
	}
	return store.Tag{Name: tag, Commit: in.Commit, MinorWaveID: in.MinorWaveID, Message: message, Summary: js}, row.ID, nil
}

// unfinishedMessage is the human part of an unfinished tag: it says first that it is not
// a wave's tag, then what is green and what is not settled.
func unfinishedMessage(in wire.TagInput, sum wire.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: UNFINISHED %s: its builds are done, some failures are not settled yet.\n", in.Tag, in.Name)
	fmt.Fprintf(&b, "Pin here only if your package's closure is green (crest pin --unfinished); %s will follow.\n\n", in.Name)
	fmt.Fprintf(&b, "%d packages rebuilt and tested: %d passed", sum.Counts.Total, sum.Counts.Passed)
	if sum.Counts.Resolved > 0 {
		fmt.Fprintf(&b, ", %d settled by resolution", sum.Counts.Resolved)
	}
	fmt.Fprintf(&b, ", %d not settled.\n", sum.Counts.Unresolved+sum.Counts.Pending)
	writeFailures(&b, sum.Failures)
	return strings.TrimRight(b.String(), "\n")
}

// writeFailures lists root causes, a line each, with how they settled.
func writeFailures(b *strings.Builder, failures []wire.Failure) {
	for _, f := range failures {
		settled := f.Resolution
		if settled == "" {
			settled = "not settled"
		}
		fmt.Fprintf(b, "- %s: %s, %s", f.Package, f.Status, settled)
		if f.Dependents > 0 {
			fmt.Fprintf(b, " (%d dependents follow)", f.Dependents)
		}
		b.WriteString("\n")
	}
}

// tagMessage is the human part: what the minor wave updated and how its failures settled.
func tagMessage(in wire.TagInput, sum wire.Summary) string {
	var b strings.Builder
	var ups []string
	for _, u := range in.Updates {
		ups = append(ups, u.Package+" ("+u.Ref+")")
	}
	fmt.Fprintf(&b, "%s: %s\n\n", in.Name, strings.Join(ups, ", "))
	fmt.Fprintf(&b, "%d packages rebuilt and tested: %d passed", sum.Counts.Total, sum.Counts.Passed)
	if sum.Counts.Resolved > 0 {
		fmt.Fprintf(&b, ", %d settled by resolution", sum.Counts.Resolved)
	}
	b.WriteString(".\n")
	writeFailures(&b, sum.Failures)
	return strings.TrimRight(b.String(), "\n")
}

// RecordDecision writes a policy decision to the audit log (once per package, action and
// deadline) and, while the package waits, as its reason for `crest wave status`.
func (a *Activities) RecordDecision(ctx context.Context, in wire.DecisionInput) error {
	key := fmt.Sprintf("%s/%s/%s/%s/%d", in.Wave, in.System, in.Package, in.Action, in.Until.Unix())
	if _, err := a.Store.RecordAudit(ctx, store.AuditEntry{Key: key, Actor: "policy", Wave: in.Wave, Package: in.Package,
		Action: "policy:" + in.Action, Reason: in.Reason}); err != nil {
		return err
	}
	return a.Store.SetWaitingReason(ctx, in.MinorWaveID, in.System, in.Package, in.Reason)
}
