package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// Issues files and updates one issue per root cause. activities/filer implements it over
// an issue tracker with an outbox in Postgres, so that each report is made exactly once.
type Issues interface {
	// Report files the issue of an unresolved root cause, or comments on the open one with
	// the same failure (a later minor or major wave, another attempt), once per report key.
	Report(ctx context.Context, r IssueReport) (IssueState, error)
	// Settle writes how a root cause was settled to its issue, once: fixed closes it as
	// completed, wont-fix and cant-fix close it as not planned, marked-broken leaves it open.
	Settle(ctx context.Context, r IssueReport, resolution, reason string) error
	// RequestTag asks a package's upstream for the tag of a major wave, once while the
	// request is open; it returns where the request is.
	RequestTag(ctx context.Context, r TagRequest) (string, error)
}

// TagRequest asks an upstream to tag its repository for a major wave.
type TagRequest struct {
	Collection  string        `json:"collection"`
	Package     string        `json:"package"`
	Maintainers []string      `json:"maintainers,omitempty"`
	Repo        string        `json:"repo"`
	Tag         string        `json:"tag"`
	Wave        string        `json:"wave"`
	Updates     []wire.Update `json:"updates"` // what the wave updates upstream of the package
}

// IssueReport is what an issue about a root cause says.
type IssueReport struct {
	Collection  string      `json:"collection"`
	Package     string      `json:"package"`
	System      string      `json:"system"`
	Status      string      `json:"status"` // failed or test-failed
	Maintainers []string    `json:"maintainers,omitempty"`
	Major       int         `json:"major"`
	Minor       int         `json:"minor"`
	Attempt     int         `json:"attempt"`
	Commit      string      `json:"commit"`
	Branch      string      `json:"branch"`
	Update      wire.Update `json:"update"` // the root update that set it off
	Drv         string      `json:"drv"`
	LogTail     string      `json:"log_tail"`
	Dependents  []string    `json:"dependents,omitempty"`
	Deadline    time.Time   `json:"deadline,omitzero"`
	Protected   bool        `json:"protected,omitempty"`
	// Fingerprint names the failure an earlier Report filed (for Settle; empty to derive
	// it from the log).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Patch and Wave name a security patch and the security tag its rebuild makes, when
	// the failure is there (wire.ReviewInput.Patch).
	Patch string `json:"patch,omitempty"`
	Wave  string `json:"wave,omitempty"`
}

// IssueState is where people answer and what they said.
type IssueState struct {
	Ref              string    `json:"ref"` // URL, or "local#N"
	Fingerprint      string    `json:"fingerprint"`
	LastComment      time.Time `json:"last_comment,omitzero"`
	LastCommentActor string    `json:"last_comment_actor,omitempty"`
}

// ReviewFailures brings a minor wave's issues up to date and returns what the grace policy
// needs about each unresolved root cause: every unresolved root cause gets its issue (one
// per failure, listing the dependents it blocks), every settled one has its resolution
// written there, and protected packages are named with the chain that protects them.
func (a *Activities) ReviewFailures(ctx context.Context, in wire.ReviewInput) ([]wire.Notice, error) {
	roots, err := a.Store.RootCauses(ctx, in.MinorWaveID)
	if err != nil || len(roots) == 0 {
		return nil, err
	}
	settings, err := policy.DecodeSettings(in.Policy)
	if err != nil {
		return nil, invalid("wave policy: %v", err)
	}
	eff, err := policy.Effective(settings)
	if err != nil {
		return nil, invalid("wave policy: %v", err)
	}
	update := wire.Update{}
	if len(in.Updates) > 0 {
		update = in.Updates[0]
	}
	report := func(r store.RootCause) IssueReport {
		rep := IssueReport{Collection: in.Collection, Package: r.Package, System: r.System, Status: r.Status,
			Major: in.Major, Minor: in.Minor, Attempt: r.Attempts, Commit: in.Commit, Branch: in.Branch,
			Update: update, Drv: r.Drv, LogTail: r.LogTail, Dependents: r.Dependents, Fingerprint: r.Fingerprint}
		if in.Patch != "" {
			rep.Patch, rep.Wave = in.Patch, in.Wave
		}
		return rep
	}
	// Settled root causes only need their resolution written; the graph (maintainers,
	// protection) is loaded only when something still waits: a wave of 100,000 packages
	// makes that a second's work.
	var waiting []store.RootCause
	for _, r := range roots {
		if r.Resolution == "" {
			waiting = append(waiting, r)
		} else if err := a.settleIssue(ctx, report(r), r.Resolution, r.Reason); err != nil {
			return nil, err
		}
	}
	if len(waiting) == 0 {
		return nil, nil
	}
	graphs := map[string]*graph.Graph{}  // by system
	protected := map[string]policy.Set{} // by system
	for _, ev := range in.Evaluations {
		g, err := a.loadGraph(ctx, ev.EvaluationID)
		if err != nil {
			return nil, err
		}
		set, err := policy.Protected(g, rootsIn(g, eff.ProtectedRoots))
		if err != nil {
			return nil, err
		}
		graphs[ev.System], protected[ev.System] = g, set
	}
	var out []wire.Notice
	for _, r := range waiting {
		activity.RecordHeartbeat(ctx, r.Package)
		rep := report(r)
		if g := graphs[r.System]; g != nil {
			if p, ok := g.Package(r.Package); ok {
				rep.Maintainers = p.Maintainers
			}
		}
		chain := protected[r.System].Why(r.Package)
		rep.Protected = len(chain) > 0
		now := time.Now()
		if !rep.Protected {
			rep.Deadline = now.Add(time.Duration(*eff.GracePeriod))
		}
		n := wire.Notice{System: r.System, Package: r.Package, Status: r.Status, Maintainers: rep.Maintainers, Protected: chain}
		var st IssueState
		if a.Issues != nil {
			if st, err = a.Issues.Report(ctx, rep); err != nil {
				return nil, issueError(r.Package, err)
			}
			n.Issue, n.LastComment, n.LastCommentActor = st.Ref, st.LastComment, st.LastCommentActor
		}
		if n.Notified, err = a.Store.MarkNotified(ctx, in.MinorWaveID, r.System, r.Package, n.Issue, st.Fingerprint, now); err != nil {
			return nil, err
		}
		if !n.LastComment.After(n.Notified) {
			n.LastComment, n.LastCommentActor = time.Time{}, ""
		}
		out = append(out, n)
	}
	return out, nil
}

// rootsIn keeps the protected roots this evaluation has (a root may be absent on a system).
func rootsIn(g *graph.Graph, roots []string) []string {
	var out []string
	for _, r := range roots {
		if g.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

// Review is one policy review of a minor wave, recorded as one activity whatever the
// number of failures: it brings the issues up to date (ReviewFailures), decides about
// every unresolved root cause at once (policy.Review, at the workflow's time), records
// each decision (audit log, and as the package's reason) and marks broken what the policy
// says to, with its dependents following (Resolve). Idempotent: a retried review finds
// the packages it marked broken resolved, and the audit log keys decisions.
func (a *Activities) Review(ctx context.Context, in wire.ReviewInput) (wire.ReviewResult, error) {
	notices, err := a.ReviewFailures(ctx, in)
	if err != nil || len(notices) == 0 {
		return wire.ReviewResult{}, err
	}
	settings, err := policy.DecodeSettings(in.Policy)
	if err != nil {
		return wire.ReviewResult{}, invalid("wave policy: %v", err)
	}
	failures := make([]policy.Failure, len(notices))
	for i, n := range notices {
		failures[i] = n.Failure(in.Events)
	}
	decisions, wake := policy.Review(failures, settings, in.Now)
	out := wire.ReviewResult{Wake: wake}
	for i, d := range decisions {
		n := notices[i]
		activity.RecordHeartbeat(ctx, "deciding about "+d.Package)
		if err := a.RecordDecision(ctx, wire.DecisionInput{Wave: in.Wave, MinorWaveID: in.MinorWaveID, System: n.System,
			Package: d.Package, Action: string(d.Action), Reason: d.Reason, Until: d.Until}); err != nil {
			return out, err
		}
		switch d.Action {
		case policy.ActionMarkBroken:
			if _, err := a.Resolve(ctx, wire.ResolveInput{Wave: in.Wave, MinorWaveID: in.MinorWaveID, System: n.System,
				Package: n.Package, Resolution: string(policy.ResolutionMarkedBroken), Reason: d.Reason, Actor: "policy"}); err != nil {
				return out, err
			}
			out.MarkedBroken++
		case policy.ActionBlock:
			out.Blocked++
			out.Waiting++
		default:
			out.Waiting++
		}
	}
	return out, nil
}
