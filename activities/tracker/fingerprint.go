package tracker

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// Signature tuning. Changing any of them, or the rules below, changes fingerprints and
// so files new issues for known failures: do it between major waves.
const (
	// SignatureWindow is how many non-empty lines at the end of a log Signature reads.
	// Nix prints the last 25 lines of a failed build by default; callers keep more, and
	// the window makes the signature independent of how much more.
	SignatureWindow = 50
	// fallbackLines is how many trailing lines make the signature of a log that has no
	// line mentioning an error.
	fallbackLines = 10
)

// Fingerprint returns the dedupe key of a failure: the hex SHA-256 (first 32 digits) of
// the package and the Signature of its log. The same failure of the same package in a
// later wave, against other store hashes, versions, temporary paths, times, PIDs and
// line numbers, has the same fingerprint; another package or another error does not.
func Fingerprint(pkg, failureLog string) string {
	h := sha256.New()
	h.Write([]byte("crest-fingerprint-v1\x00"))
	h.Write([]byte(pkg))
	h.Write([]byte{0})
	h.Write([]byte(Signature(failureLog)))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Signature returns the normalized failure signature of a build or test log tail: of the
// last SignatureWindow non-empty lines, those that mention an error (error, failed,
// panic, assert, undefined, not found, …), normalized by the rules of this file, sorted
// and without duplicates (parallel builds interleave lines in any order), joined by
// newlines. A log without such lines is signed by its last few normalized lines.
func Signature(failureLog string) string {
	var lines []string
	for raw := range strings.SplitSeq(failureLog, "\n") {
		if l := cleanLine(raw); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > SignatureWindow {
		lines = lines[len(lines)-SignatureWindow:]
	}
	var sig []string
	for _, l := range lines {
		n := normalizeLine(l)
		if n != "" && errorLine.MatchString(n) {
			sig = append(sig, n)
		}
	}
	if len(sig) == 0 {
		for _, l := range lines[max(0, len(lines)-fallbackLines):] {
			if n := normalizeLine(l); n != "" {
				sig = append(sig, n)
			}
		}
		return strings.Join(sig, "\n") // order kept: nothing to anchor on but the tail
	}
	slices.Sort(sig)
	return strings.Join(slices.Compact(sig), "\n")
}

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)
	// Nix prefixes build log lines with "> " in error reports and with "<pname>> "
	// under --print-build-logs.
	nixLogPrefix = regexp.MustCompile(`^\s*(?:[A-Za-z0-9_.+-]+)?>\s?`)
	errorLine    = regexp.MustCompile(`(?i)\b(?:error|fail|fatal|panic|traceback|exception|assert|undefined|cannot|can't|could ?n[o']t|not found|no such|segmentation|abort|killed|timed out|timeout|mismatch|denied|refused|unexpected|missing)`)
)

// cleanLine undoes terminal effects: carriage-return redraws, colours, Nix prefixes.
func cleanLine(l string) string {
	l = strings.TrimRight(l, "\r")
	if i := strings.LastIndexByte(l, '\r'); i >= 0 {
		l = l[i+1:]
	}
	l = ansiEscape.ReplaceAllString(l, "")
	l = nixLogPrefix.ReplaceAllString(l, "")
	return strings.TrimSpace(l)
}

// A rule rewrites one kind of volatile text to a placeholder. Order matters: store paths
// before bare hashes, timestamps before line numbers.
type rule struct {
	re   *regexp.Regexp
	repl string
	fn   func(match []string) string // when set, used instead of repl
}

// storeName matches what follows "<hash>-" in a store path.
const storeName = `([A-Za-z0-9+._?=-]+)`

var rules = []rule{
	// /nix/store/<32 base32>-name-1.2.3[.drv] → <store>/name-<v>[.drv]
	{re: regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}-` + storeName), fn: func(m []string) string {
		return "<store>/" + stripVersion(m[1])
	}},
	// Build directories: /tmp/nix-build-foo-1.2.drv-0 (no sandbox, Darwin) and the first
	// component under /build (the sandbox), which names the unpacked source.
	{re: regexp.MustCompile(`[^\s'"` + "`" + `]*/nix-build-[^/\s'"` + "`" + `]+`), repl: "<builddir>"},
	{re: regexp.MustCompile(`(<builddir>|\B/build)/([^/\s'"` + "`" + `]+)`), fn: func(m []string) string {
		return m[1] + "/" + stripVersion(m[2])
	}},
	// Other temporary directories: the random component goes.
	{re: regexp.MustCompile(`(?:/private)?/var/folders/[^\s'"` + "`" + `]+?/T/`), repl: "<tmp>/"},
	{re: regexp.MustCompile(`\B/tmp/[^/\s'"` + "`" + `]+`), repl: "<tmp>"},
	{re: regexp.MustCompile(`\bnixbld\d+\b`), repl: "nixbld"},
	{re: regexp.MustCompile(`\bpytest-(\d+)\b`), repl: "pytest-<n>"},
	// Hashes: Nix base32 digests, SRI and hex digests, UUIDs, addresses.
	{re: regexp.MustCompile(`\b[0-9a-df-np-sv-z]{32}\b`), repl: "<hash>"},
	{re: regexp.MustCompile(`\b(sha1|sha256|sha512|md5)-[A-Za-z0-9+/]{20,}=*`), repl: "$1-<sri>"},
	{re: regexp.MustCompile(`\b(sha1|sha256|sha512|md5):[0-9a-z]{32,}\b`), repl: "$1:<hash>"},
	{re: regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`), repl: "<uuid>"},
	{re: regexp.MustCompile(`\b0x[0-9a-fA-F]+\b`), repl: "0x<hex>"},
	{re: regexp.MustCompile(`\b[0-9a-f]{16,}\b`), repl: "<hex>"},
	// Times: ISO 8601 date-times, bare dates, clock times.
	{re: regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?`), repl: "<time>"},
	{re: regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`), repl: "<date>"},
	{re: regexp.MustCompile(`\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b`), repl: "<time>"},
	// Durations: 12.34s, 5m30s, 120ms, (0.02 sec), 3 seconds.
	{re: regexp.MustCompile(`\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:ns|us|µs|ms|s)\b`), repl: "<dur>"},
	{re: regexp.MustCompile(`\b\d+(?:\.\d+)?\s?(?:sec|secs|seconds|minutes|mins)\b`), repl: "<dur>"},
	// Processes: pid 1234, python3[1234], make[2], "line 1: 1234 Segmentation fault".
	{re: regexp.MustCompile(`(?i)\b(pid|process|thread)([ =:#]+)\d+\b`), repl: "$1$2<n>"},
	{re: regexp.MustCompile(`\b([A-Za-z0-9_.-]+)\[\d+\]`), repl: "$1[<n>]"},
	{re: regexp.MustCompile(`\b\d+ (Segmentation fault|Killed|Aborted|Bus error|Illegal instruction|Floating point exception|Terminated)`), repl: "<n> $1"},
	// Source positions: foo.c:12:5, Makefile:456, File "x.py", line 88, gcc's "  12 |".
	{re: regexp.MustCompile(`((?:[A-Za-z0-9_+./<>-]+\.[A-Za-z0-9]+)|\b(?:GNUmakefile|[Mm]akefile)):\d+(?::\d+)?`), fn: func(m []string) string {
		if strings.Count(m[0], ":") == 2 {
			return m[1] + ":<n>:<n>"
		}
		return m[1] + ":<n>"
	}},
	{re: regexp.MustCompile(`(?i)\bline \d+`), repl: "line <n>"},
	{re: regexp.MustCompile(`^\d+ \|`), repl: "<n> |"},
	// Counts that move with the test suite, not with the failure.
	{re: regexp.MustCompile(`\b\d+ (passed|failed|skipped|errors?|warnings?|deselected|xfailed|xpassed|ignored|measured|filtered out|tests?|failures?|dependencies|items?)\b`), repl: "<n> $1"},
	{re: regexp.MustCompile(`\b(failures|errors|skipped|expected failures|unexpected successes)=\d+`), repl: "$1=<n>"},
	{re: regexp.MustCompile(`\blast \d+ log lines\b`), repl: "last <n> log lines"},
	{re: regexp.MustCompile(`(?i)\b(seed\s*[=:]?\s*)\d+`), repl: "$1<n>"},
	{re: regexp.MustCompile(`\[\s*\d+/\d+\]`), repl: "[<n>/<n>]"},
	{re: regexp.MustCompile(`\b\d+(?:\.\d+)?%`), repl: "<pct>"},
	// Rulers and summaries whose width or content moves with the suite: pytest's
	// "==== 1 failed, 244 passed in 12.34s ====" becomes "=== <summary> ===".
	{re: regexp.MustCompile(`={4,}`), repl: "==="},
	{re: regexp.MustCompile(`_{4,}`), repl: "___"},
	{re: regexp.MustCompile(`-{4,}`), repl: "---"},
	{re: regexp.MustCompile(`\s+`), repl: " "},
	{re: regexp.MustCompile(`^=== .*\bin <dur> ===$`), repl: "=== <summary> ==="},
}

// normalizeLine applies the rules to one cleaned line.
func normalizeLine(l string) string {
	for _, r := range rules {
		if r.fn != nil {
			l = r.re.ReplaceAllStringFunc(l, func(s string) string {
				return r.fn(r.re.FindStringSubmatch(s))
			})
			continue
		}
		l = r.re.ReplaceAllString(l, r.repl)
	}
	return strings.TrimSpace(l)
}

// stripVersion drops the version from a store or source name the way Nix's
// builtins.parseDrvName splits them (the version starts at the first dash followed by a
// non-letter), keeping a ".drv" suffix: "libfoo-1.2.3.drv" → "libfoo-<v>.drv".
func stripVersion(name string) string {
	suffix := ""
	if s, ok := strings.CutSuffix(name, ".drv"); ok {
		name, suffix = s, ".drv"
	}
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && !isLetter(name[i+1]) {
			return name[:i] + "-<v>" + suffix
		}
	}
	return name + suffix
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
