package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
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

// closest returns up to max candidates close to name, best first: those containing it or
// within a small edit distance (a third of its length, at least 2), the closer (fewer
// edits, or fewer extra characters around it) the better. It serves "did you mean"
// hints over short lists (settings fields, the packages of one minor wave); graph.Suggest
// does the same over a whole graph.
func closest(name string, candidates []string, max int) []string {
	q := strings.ToLower(name)
	limit := max2(len(q)/3, 2)
	type cand struct {
		score int
		name  string
	}
	var cands []cand
	for _, c := range candidates {
		s := strings.ToLower(c)
		score := editDistance(q, s, limit)
		if score > limit {
			score = -1
		}
		if q != "" && strings.Contains(s, q) && (score < 0 || len(s)-len(q) < score) {
			score = len(s) - len(q)
		}
		if score >= 0 {
			cands = append(cands, cand{score, c})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.score != b.score {
			return a.score - b.score
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cands {
		if len(out) == max {
			break
		}
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
	}
	return out
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// didYouMean renders suggestions as " (did you mean a, b?)", or "" for none.
func didYouMean(sug []string) string {
	if len(sug) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(sug, ", ") + "?)"
}

// editDistance is the Levenshtein distance of a and b, or limit+1 as soon as it must exceed
// limit, so that hopeless pairs cost little.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
