package tracker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crestwaves/crest/activities/wavename"
)

// Limits of rendered text. GitHub rejects bodies over 65,536 characters; staying well
// under leaves room for the markers and notes adapters append.
const (
	MaxBodyBytes      = 60000
	maxLogLines       = 80
	maxLogBytes       = 24000
	maxDependentsList = 50
)

// Phase says what failed: the package's own build, or its tests (passthru.tests).
type Phase string

// The phases a root cause can fail in.
const (
	PhaseBuild Phase = "build"
	PhaseTest  Phase = "test"
)

// Report is what Crest tells maintainers about one root-cause failure. The activity
// layer fills it from the store; the renderers turn it into issue text.
type Report struct {
	Package string `json:"package"`          // attribute path, e.g. "python312Packages.requests"
	Phase   Phase  `json:"phase"`            // what failed: the build or the tests
	Major   int    `json:"major"`            // major wave number: the N of <prefix>-N-M
	Minor   int    `json:"minor"`            // minor wave number: the M of <prefix>-N-M
	System  string `json:"system,omitempty"` // e.g. "x86_64-linux"
	Commit  string `json:"commit,omitempty"` // collection commit the minor wave built
	// Branch is where a fix goes (the wave branch); optional.
	Branch string `json:"branch,omitempty"`
	// Update is the root update that triggered the rebuild, e.g. "openssl: 3.0.13 → 3.0.14".
	Update  string `json:"update,omitempty"`
	Drv     string `json:"drv,omitempty"`     // derivation that failed; optional
	LogTail string `json:"log_tail"`          // last lines of the failing log, as captured
	LogURL  string `json:"log_url,omitempty"` // where the full log is; optional
	// Dependents are the packages this failure keeps from building (dependency-failed).
	Dependents []string `json:"dependents,omitempty"`
	// Deadline ends the grace period; zero when there is none.
	Deadline time.Time `json:"deadline,omitzero"`
	// Protected says the package is in the closure of a protected root, so policy will
	// not mark it broken: the wave waits for a fix or a release manager's decision.
	Protected bool `json:"protected,omitempty"`
	// TagPrefix is the collection's tag prefix, which names its waves; empty means the
	// default.
	TagPrefix string `json:"tag_prefix,omitempty"`
	// Patch names the security patch (patch-N) when the failure is in its rebuild of a
	// finished tag, and Wave the security tag that rebuild makes (wave-3-2-security-1):
	// Major and Minor are then the finished tag's, and the issue asks for `crest patch`.
	Patch string `json:"patch,omitempty"`
	Wave  string `json:"wave,omitempty"`
}

// Tag names the minor wave of the report, "wave-3-2", or Wave.
func (r Report) Tag() string { return waveName(r.Wave, r.TagPrefix, r.Major, r.Minor) }

// waveName is wave, or else minor wave m of major wave n: where a report or event is.
func waveName(wave, prefix string, n, m int) string {
	if wave != "" {
		return wave
	}
	return wavename.Minor(prefix, n, m)
}

// Label is the issue label of the report's major wave: "wave-3".
func (r Report) Label() string { return wavename.Major(r.TagPrefix, r.Major) }

// Title renders the issue title: "<package>: build fails in <prefix>-N-M" or
// "<package>: tests fail in <prefix>-N-M".
func Title(r Report) string {
	what := "build fails"
	if r.Phase == PhaseTest {
		what = "tests fail"
	}
	return fmt.Sprintf("%s: %s in %s", oneLine(r.Package), what, r.Tag())
}

// Body renders the issue body in Markdown: what failed where, the log tail, the blocked
// dependents, the deadline and how to respond. Same report, same text; at most
// MaxBodyBytes bytes (the log is cut from the top first).
func Body(r Report) string {
	var b strings.Builder
	tag := r.Tag()
	verb := "fails to build"
	if r.Phase == PhaseTest {
		verb = "builds, but its tests fail"
	}
	fmt.Fprintf(&b, "%s %s", code(r.Package), verb)
	if r.System != "" {
		fmt.Fprintf(&b, " on %s", code(r.System))
	}
	if r.Patch != "" {
		fmt.Fprintf(&b, " in %s, the rebuild of %s by security patch %s.", code(tag),
			code(wavename.Minor(r.TagPrefix, r.Major, r.Minor)), code(r.Patch))
	} else {
		fmt.Fprintf(&b, " in minor wave %s of major wave %s.", code(tag), code(r.Label()))
	}
	b.WriteString(" All of its dependencies built, so this is a root cause: the packages it blocks get no issue of their own.\n\n")

	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v))
		}
	}
	row("Package", code(r.Package))
	row("System", code(r.System))
	row("Wave", code(tag))
	row("Commit", code(r.Commit))
	row("Triggered by", r.Update)
	row("Derivation", code(r.Drv))
	deps := sortedUnique(r.Dependents)
	if len(deps) > 0 {
		row("Blocks", fmt.Sprintf("%d dependent%s", len(deps), plural(len(deps))))
	}
	if !r.Deadline.IsZero() {
		row("Deadline", formatTime(r.Deadline))
	}

	log, shown, total := logTail(r.LogTail, maxLogLines, maxLogBytes)
	writeLog := func(log string, shown, total int) {
		switch {
		case total == 0:
			b.WriteString("\n### Log\n\nNo log was captured.\n")
			return
		case shown == total:
			fmt.Fprintf(&b, "\n### Log (last %d line%s)\n\n", shown, plural(shown))
		default:
			fmt.Fprintf(&b, "\n### Log (last %d of %d lines)\n\n", shown, total)
		}
		b.WriteString(fence(log, "text"))
		if r.LogURL != "" {
			fmt.Fprintf(&b, "\n[Full log](%s)\n", r.LogURL)
		}
	}
	head := b.String()
	b.Reset()

	if len(deps) > 0 {
		fmt.Fprintf(&b, "\n### Blocked dependents (%d)\n\n", len(deps))
		for i, d := range deps {
			if i == maxDependentsList {
				fmt.Fprintf(&b, "- … and %d more\n", len(deps)-i)
				break
			}
			fmt.Fprintf(&b, "- %s\n", code(d))
		}
	}

	b.WriteString("\n### How to respond\n\n")
	onto := ""
	if r.Branch != "" {
		onto = " onto " + code(r.Branch)
	}
	// A wave's failures are settled with `crest wave`, a patch's with `crest patch`.
	command, target := "wave", tag
	if r.Patch != "" {
		command, target = "patch", r.Patch
	}
	fmt.Fprintf(&b, "- **Fix it.** Push the fix to a branch and ask for a retry: `crest %s retry %s %s --ref <branch>`. Crest merges it%s, rebuilds %s and its dependents, and closes this issue when it is green.\n",
		command, target, shellWord(r.Package), onto, code(r.Package))
	b.WriteString("- **Tell us.** Comment here if you are working on it or need help; a maintainer's comment before the deadline extends it.\n")
	if r.Patch == "" || !r.Protected {
		fmt.Fprintf(&b, "- **Settle it without a fix.** Comment `wont-fix` or `cant-fix` with a reason; a release manager records it with\n  `crest %s resolve %s %s --as wont-fix --reason \"…\"`.\n", command, target, shellWord(r.Package))
	}
	switch {
	case r.Protected && r.Patch != "":
		fmt.Fprintf(&b, "\n%s is needed by a protected root, so the security tag needs it fixed: %s waits for a fix.\n", code(r.Package), code(tag))
	case r.Protected:
		fmt.Fprintf(&b, "\n%s is needed by a protected root, so it cannot be marked broken: %s waits for a fix or a release manager's decision.\n", code(r.Package), code(tag))
	case !r.Deadline.IsZero():
		fmt.Fprintf(&b, "\nIf %s still fails at %s, it is marked broken and %s goes on without it.\n", code(r.Package), formatTime(r.Deadline), code(tag))
	}
	b.WriteString("\n<sub>Filed by Crest. The hidden marker below ties this issue to the failure; please leave it in place.</sub>\n")
	tail := b.String()

	// Fit: cut the log until head+log+tail fits.
	for {
		b.Reset()
		b.WriteString(head)
		writeLog(log, shown, total)
		b.WriteString(tail)
		if b.Len() <= MaxBodyBytes || shown <= 1 {
			break
		}
		log, shown, _ = logTail(log, shown/2, len(log)/2)
	}
	return truncateBytes(b.String(), MaxBodyBytes)
}

// EventKind is something that happened to a root cause after its issue was filed.
type EventKind string

// The events that are written to an issue.
const (
	// EventRecurred: the same failure again in a later minor wave (or a retry).
	EventRecurred EventKind = "recurred"
	// EventFixed: the package built; the issue is closed as completed.
	EventFixed EventKind = "fixed"
	// EventWontFix and EventCantFix: settled without a fix; closed as not planned.
	EventWontFix EventKind = "wont-fix"
	EventCantFix EventKind = "cant-fix"
	// EventMarkedBroken: policy marked the package broken; the issue stays open, since
	// the breakage is still there to repair.
	EventMarkedBroken EventKind = "marked-broken"
)

// Event is the input of RenderEvent.
type Event struct {
	Kind    EventKind `json:"kind"`    // what happened
	Package string    `json:"package"` // attribute path
	Major   int       `json:"major"`   // <prefix>-N-M the event happened in: N
	Minor   int       `json:"minor"`   // and M
	// Attempt tells apart events of one kind in one minor wave (a retry after a fix
	// commit that fails again); 0 for the first.
	Attempt int    `json:"attempt,omitempty"`
	System  string `json:"system,omitempty"` // e.g. "x86_64-linux"; optional
	Commit  string `json:"commit,omitempty"` // collection commit the wave built; optional
	// LogTail, Dependents and Deadline describe a recurrence.
	LogTail    string    `json:"log_tail,omitempty"`
	Dependents []string  `json:"dependents,omitempty"`
	Deadline   time.Time `json:"deadline,omitzero"`
	// By and Reason describe a resolution: who decided, and why.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// TagPrefix is the collection's tag prefix, which names its waves; empty means the
	// default.
	TagPrefix string `json:"tag_prefix,omitempty"`
	// Wave names where the event happened when that is not a minor wave: a security
	// patch's rebuild, by the security tag it makes (see Report.Wave).
	Wave string `json:"wave,omitempty"`
}

// Tag names the minor wave the event happened in, "wave-3-2", or Wave.
func (e Event) Tag() string { return waveName(e.Wave, e.TagPrefix, e.Major, e.Minor) }

// Key is the comment key of the event: "wave-3-2/recurred", "wave-3-2/recurred/2".
// One key, one comment, however often the activity is retried.
func (e Event) Key() string {
	k := e.Tag() + "/" + string(e.Kind)
	if e.Attempt > 0 {
		k += fmt.Sprintf("/%d", e.Attempt)
	}
	return k
}

// CloseReason says whether the event closes the issue, and as what.
func (e Event) CloseReason() (CloseReason, bool) {
	switch e.Kind {
	case EventFixed:
		return ReasonCompleted, true
	case EventWontFix, EventCantFix:
		return ReasonNotPlanned, true
	default:
		return "", false
	}
}

// RenderEvent renders the comment that records e on the issue. Same event, same text.
func RenderEvent(e Event) string {
	var b strings.Builder
	tag := code(e.Tag())
	pkg := code(e.Package)
	at := ""
	if e.Commit != "" {
		at = " at " + code(e.Commit)
	}
	on := ""
	if e.System != "" {
		on = " on " + code(e.System)
	}
	switch e.Kind {
	case EventRecurred:
		fmt.Fprintf(&b, "Still failing: %s fails the same way%s in %s%s.\n", pkg, on, tag, at)
		if deps := sortedUnique(e.Dependents); len(deps) > 0 {
			fmt.Fprintf(&b, "\nIt blocks %d dependent%s in this wave.\n", len(deps), plural(len(deps)))
		}
		if !e.Deadline.IsZero() {
			fmt.Fprintf(&b, "\nDeadline: %s.\n", formatTime(e.Deadline))
		}
		if e.LogTail != "" {
			log, shown, _ := logTail(e.LogTail, 30, maxLogBytes/2)
			fmt.Fprintf(&b, "\n<details><summary>Log (last %d line%s)</summary>\n\n%s</details>\n", shown, plural(shown), fence(log, "text"))
		}
	case EventFixed:
		fmt.Fprintf(&b, "Fixed: %s builds%s in %s%s. Closing.\n", pkg, on, tag, at)
	case EventWontFix, EventCantFix:
		word := map[EventKind]string{EventWontFix: "won't be fixed", EventCantFix: "can't be fixed"}[e.Kind]
		fmt.Fprintf(&b, "Resolved as %s in %s: this failure %s", code(string(e.Kind)), tag, word)
		if e.By != "" {
			fmt.Fprintf(&b, " (decided by %s)", oneLine(e.By))
		}
		b.WriteString(".\n")
		if e.Reason != "" {
			fmt.Fprintf(&b, "\n> %s\n", strings.ReplaceAll(strings.TrimSpace(e.Reason), "\n", "\n> "))
		}
		fmt.Fprintf(&b, "\n%s goes on without %s. Closing as not planned.\n", tag, pkg)
	case EventMarkedBroken:
		fmt.Fprintf(&b, "Marked broken: %s was still failing when its grace period ended, so it is marked broken in %s and the wave goes on without it.", pkg, tag)
		if e.Reason != "" {
			fmt.Fprintf(&b, " Policy: %s", oneLine(e.Reason))
		}
		b.WriteString("\n\nA fix is still welcome: once it lands, Crest rebuilds the package and closes this issue.\n")
	default:
		fmt.Fprintf(&b, "Crest recorded %s for %s in %s.\n", code(string(e.Kind)), pkg, tag)
	}
	return truncateBytes(b.String(), MaxBodyBytes)
}

// logTail returns the last maxLines lines of log (and at most maxBytes bytes of them),
// how many lines that is, and how many the log had.
func logTail(log string, maxLines, maxBytes int) (string, int, int) {
	log = strings.TrimRight(strings.ReplaceAll(log, "\r\n", "\n"), "\n ")
	if log == "" {
		return "", 0, 0
	}
	lines := strings.Split(log, "\n")
	total := len(lines)
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	size := 0
	for i := len(lines) - 1; i >= 0; i-- {
		size += len(lines[i]) + 1
		if size <= maxBytes {
			continue
		}
		if i < len(lines)-1 {
			lines = lines[i+1:]
			break
		}
		// One line longer than the budget: keep its end.
		last := lines[i]
		cut := len(last) - maxBytes
		for cut < len(last) && last[cut]&0xC0 == 0x80 {
			cut++
		}
		lines = []string{last[cut:]}
		break
	}
	return strings.Join(lines, "\n"), len(lines), total
}

// fence wraps text in a code fence longer than any run of backticks inside it.
func fence(text, lang string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", max(3, longest+1))
	return f + lang + "\n" + text + "\n" + f + "\n"
}

// code renders s as inline code, safe for any backticks in s; empty stays empty.
func code(s string) string {
	s = oneLine(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return "`` " + s + " ``"
}

// cell escapes a table cell.
func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// shellWord quotes s for a shell command line when it needs it.
func shellWord(s string) string {
	s = oneLine(s)
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sortedUnique(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x = oneLine(x); x != "" {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// truncateBytes cuts s to at most n bytes on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const note = "\n\n… (truncated)\n"
	cut := n - len(note)
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + note
}
