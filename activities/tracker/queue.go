package tracker

import (
	"fmt"
	"strings"
)

// QueueOutcome is where a merge-queue change stands, as its author is told.
type QueueOutcome string

// The outcomes reported to a change's author.
const (
	// QueuePending: the change is in the queue (waiting or being built).
	QueuePending QueueOutcome = "pending"
	// QueueMerged: the branch was fast-forwarded to a tested commit with the change in it.
	QueueMerged QueueOutcome = "merged"
	// QueueEjected: the bisection found the change breaks packages.
	QueueEjected QueueOutcome = "ejected"
	// QueueConflict: the change does not merge onto the branch (or does not evaluate there).
	QueueConflict QueueOutcome = "conflict"
	// QueueWithdrawn: taken out before it was built.
	QueueWithdrawn QueueOutcome = "withdrawn"
	// QueueHandedToWave: a mass rebuild, handed to the next major wave as a root update.
	QueueHandedToWave QueueOutcome = "handed-to-wave"
)

// QueueStatusContext is the context of the commit statuses the merge queue sets.
const QueueStatusContext = "crest/merge-queue"

// QueueResult is what Crest tells a change's author about it: the renderers turn it
// into a comment (QueueComment) and a commit status (QueueStatus).
type QueueResult struct {
	Outcome    QueueOutcome `json:"outcome"`
	Change     int64        `json:"change"` // the queue's change number (crest queue status N)
	Collection string       `json:"collection"`
	Branch     string       `json:"branch"` // the target branch
	Title      string       `json:"title,omitempty"`
	Ref        string       `json:"ref"`    // as submitted
	Commit     string       `json:"commit"` // what the ref named: what is built and merged
	Lane       string       `json:"lane,omitempty"`
	LaneReason string       `json:"lane_reason,omitempty"`
	// Reason is the queue's own sentence for the outcome.
	Reason string `json:"reason,omitempty"`
	// Head is the commit the branch was fast-forwarded to (merged): the tested candidate.
	Head string `json:"head,omitempty"`
	// Failures are the packages an ejected change breaks, with their log tails.
	Failures []QueueFailure `json:"failures,omitempty"`
	// Probes are the bisection's builds that convicted it.
	Probes []QueueProbe `json:"probes,omitempty"`
	// Pull is the pull request's number when the change came from one (0: a ref
	// submitted with crest queue submit); it chooses the advice on what to do next.
	Pull int64 `json:"pull,omitempty"`
}

// QueueFailure is a package an ejected change breaks.
type QueueFailure struct {
	Package string `json:"package"`
	Status  string `json:"status"` // failed, test-failed, dependency-failed
	LogTail string `json:"log_tail,omitempty"`
}

// QueueProbe is one build of a bisection: the failed packages at a probe commit.
type QueueProbe struct {
	Round    int      `json:"round"`
	Kind     string   `json:"kind"`   // base, prefix, rebuild
	Prefix   int      `json:"prefix"` // how many of the batch's changes the commit holds
	Commit   string   `json:"commit"`
	Packages []string `json:"packages"`
	Failed   []string `json:"failed,omitempty"`
}

// Key is the comment key of the result: one comment per change and outcome, however
// often the report is retried.
func (r QueueResult) Key() string {
	return fmt.Sprintf("crest-queue/change-%d/%s", r.Change, r.Outcome)
}

// QueueStatus is the commit status of the result: pending in the queue, success when
// merged, failure when ejected or in conflict, error when withdrawn or handed to a wave
// (the queue did not merge it, and nothing says it is broken).
func QueueStatus(r QueueResult) CommitStatus {
	s := CommitStatus{Context: QueueStatusContext}
	var d string
	switch r.Outcome {
	case QueuePending:
		s.State, d = CommitPending, fmt.Sprintf("In the merge queue of %s as change %d", r.Branch, r.Change)
		if r.Lane != "" {
			d += " (" + r.Lane + " lane)"
		}
	case QueueMerged:
		s.State, d = CommitSuccess, fmt.Sprintf("Merged into %s", r.Branch)
		if r.Head != "" {
			d += " at " + shortCommit(r.Head) + ", built green"
		}
	case QueueEjected:
		s.State, d = CommitFailure, "Ejected: "+r.Reason
		if pkgs := failedPackages(r.Failures); len(pkgs) > 0 {
			d = "Ejected: breaks " + strings.Join(pkgs, ", ")
		}
	case QueueConflict:
		s.State, d = CommitFailure, "Cannot be merged: "+r.Reason
	case QueueWithdrawn:
		s.State, d = CommitError, "Withdrawn from the merge queue"
	case QueueHandedToWave:
		s.State, d = CommitError, "Mass rebuild: handed to the next major wave, not merged by the queue"
	default:
		s.State, d = CommitError, "Merge queue: "+string(r.Outcome)
	}
	s.Description = clipLine(d, MaxStatusDescription)
	return s
}

// QueueIssueTitle is the title of the local issue that follows a change submitted by
// ref (crest dev: the local tracker stands in for the pull request).
func QueueIssueTitle(r QueueResult) string {
	t := fmt.Sprintf("queue: change %d (%s) into %s", r.Change, oneLine(r.Ref), oneLine(r.Branch))
	if title := oneLine(r.Title); title != "" {
		t += ": " + title
	}
	return clipLine(t, 200)
}

// QueueComment renders the result as Markdown: what happened, the change, and for an
// ejection the packages it breaks with their log tails (clipped) and the probes that
// convicted it. Same result, same text; at most MaxBodyBytes bytes.
func QueueComment(r QueueResult) string {
	var b strings.Builder
	change := fmt.Sprintf("Change %d (%s at %s)", r.Change, code(r.Ref), code(shortCommit(r.Commit)))
	branch := code(r.Branch)
	switch r.Outcome {
	case QueuePending:
		fmt.Fprintf(&b, "**Queued.** %s is in the merge queue of %s of %s. Crest builds it with the changes batched beside it and fast-forwards %s to that commit only if everything built.\n",
			change, branch, code(r.Collection), branch)
	case QueueMerged:
		fmt.Fprintf(&b, "**Merged.** %s is in %s of %s.", change, branch, code(r.Collection))
		if r.Head != "" {
			fmt.Fprintf(&b, " %s was fast-forwarded to %s, the commit that was built and tested with this change in it.", branch, code(r.Head))
		}
		b.WriteString("\n")
	case QueueEjected:
		fmt.Fprintf(&b, "**Ejected.** %s was taken out of the merge queue of %s: it breaks what built without it.\n", change, branch)
	case QueueConflict:
		fmt.Fprintf(&b, "**Cannot be merged.** %s was taken out of the merge queue of %s.\n", change, branch)
	case QueueWithdrawn:
		fmt.Fprintf(&b, "**Withdrawn.** %s was taken out of the merge queue of %s before it was built.\n", change, branch)
	case QueueHandedToWave:
		fmt.Fprintf(&b, "**Handed to the next major wave.** %s rebuilds too much for the merge queue of %s: it becomes a root update of the next major wave, which builds it with its dependents.\n", change, branch)
	default:
		fmt.Fprintf(&b, "%s: %s.\n", change, code(string(r.Outcome)))
	}
	if reason := strings.TrimSpace(r.Reason); reason != "" && r.Outcome != QueuePending {
		fmt.Fprintf(&b, "\n> %s\n", strings.ReplaceAll(reason, "\n", "\n> "))
	}

	b.WriteString("\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v))
		}
	}
	row("Change", fmt.Sprint(r.Change))
	row("Title", r.Title)
	row("Commit", code(r.Commit))
	lane := code(r.Lane)
	if r.LaneReason != "" {
		lane += ": " + r.LaneReason
	}
	row("Lane", lane)
	if r.Outcome == QueueMerged {
		row(oneLine(r.Branch)+" is now", code(r.Head))
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(&b, "\n### Breaks %d package%s\n\n", len(r.Failures), plural(len(r.Failures)))
		for _, f := range r.Failures {
			what := "fails to build"
			switch f.Status {
			case "test-failed":
				what = "builds, but its tests fail"
			case "dependency-failed":
				what = "cannot build: a dependency fails"
			}
			fmt.Fprintf(&b, "- %s %s\n", code(f.Package), what)
		}
	}
	head := b.String()
	b.Reset()

	if len(r.Probes) > 0 {
		fmt.Fprintf(&b, "\n### The bisection (%d probe%s)\n\nEach probe built only the failed packages at a commit of the batch.\n\n| Round | Probe | Commit | Built | Failed |\n|---|---|---|---|---|\n",
			len(r.Probes), plural(len(r.Probes)))
		for _, p := range r.Probes {
			probe := p.Kind
			if p.Kind == "prefix" {
				probe = fmt.Sprintf("first %d change%s", p.Prefix, plural(p.Prefix))
			}
			failed := "none"
			if len(p.Failed) > 0 {
				failed = codeList(p.Failed)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", p.Round, cell(probe), code(shortCommit(p.Commit)), cell(codeList(p.Packages)), cell(failed))
		}
	}
	b.WriteString(nextSteps(r))
	b.WriteString("\n<sub>Posted by Crest's merge queue. The hidden marker below keeps it from being posted twice; please leave it in place.</sub>\n")
	tail := b.String()

	// The logs go between the table and the rest, cut until the whole fits.
	lines, bytes := 40, maxLogBytes/2
	for {
		b.Reset()
		b.WriteString(head)
		for _, f := range r.Failures {
			log, shown, total := logTail(f.LogTail, lines, bytes)
			if total == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n<details><summary>%s: log (last %d of %d line%s)</summary>\n\n%s</details>\n", code(f.Package), shown, total, plural(total), fence(log, "text"))
		}
		b.WriteString(tail)
		if b.Len() <= MaxBodyBytes || lines <= 1 {
			break
		}
		lines, bytes = lines/2, bytes/2
	}
	return truncateBytes(b.String(), MaxBodyBytes)
}

// nextSteps says what the author can do now.
func nextSteps(r QueueResult) string {
	resubmit := fmt.Sprintf("submit it again: `crest queue submit --ref %s`", shellWord(r.Ref))
	if r.Pull > 0 {
		resubmit = "push to this pull request: its new head is queued once it is approved and labelled"
	}
	switch r.Outcome {
	case QueueEjected:
		return "\n### What next\n\nFix the breakage (the log above shows where), then " + resubmit + ". Nothing was merged: the branch never holds a commit that did not build.\n"
	case QueueConflict:
		return "\n### What next\n\nRebase the change onto " + code(r.Branch) + " and resolve the conflicts, then " + resubmit + ".\n"
	case QueueWithdrawn:
		return "\n### What next\n\nTo queue it again, " + resubmit + ".\n"
	}
	return ""
}

// failedPackages are the packages of failures that failed on their own (not blocked).
func failedPackages(fs []QueueFailure) []string {
	var out []string
	for _, f := range fs {
		if f.Status != "dependency-failed" {
			out = append(out, oneLine(f.Package))
		}
	}
	return sortedUnique(out)
}

// codeList renders names as inline code, comma-separated, at most 10 of them.
func codeList(names []string) string {
	var out []string
	for i, n := range names {
		if i == 10 {
			out = append(out, fmt.Sprintf("… and %d more", len(names)-i))
			break
		}
		out = append(out, code(n))
	}
	return strings.Join(out, ", ")
}

// shortCommit is a commit's first 12 characters.
func shortCommit(c string) string {
	c = oneLine(c)
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// clipLine makes s one line of at most n bytes, cut on a rune boundary with "…".
func clipLine(s string, n int) string {
	s = oneLine(s)
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
