package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crestwaves/crest/graph"
)

// maxListed is how many names a reason spells out before "and N more": reasons are read
// by people, and a list of three hundred dependents is not read.
const maxListed = 10

// listNames joins names with ", ", cutting after maxListed.
func listNames(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
}

// plural picks the word for n things.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatTime renders an instant for reasons: UTC, to the second, so that the same instant
// reads the same whatever location the caller's time.Time carried.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sortedUnique returns a sorted copy of names without repeats (nil for none).
func sortedUnique(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}

// closest gives "did you mean" candidates, by graph.Closest's rule.
func closest(name string, candidates []string, max int) []string {
	return graph.Closest(name, candidates, max)
}

// didYouMean renders suggestions as " (did you mean a, b?)", or "" for none.
func didYouMean(sug []string) string {
	if len(sug) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(sug, ", ") + "?)"
}
