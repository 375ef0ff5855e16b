package wavename

import (
	"strconv"
	"strings"
)

// Default is the tag prefix of a collection that sets none.
const Default = "wave"

// Prefix returns prefix, or Default when it is empty.
func Prefix(prefix string) string {
	if prefix == "" {
		return Default
	}
	return prefix
}

// Major names major wave n: "wave-3". It is also the name of the wave's branch and the
// label of its issues.
func Major(prefix string, n int) string { return Prefix(prefix) + "-" + strconv.Itoa(n) }

// Minor names minor wave m of major wave n, and its tag: "wave-3-2".
func Minor(prefix string, n, m int) string { return Major(prefix, n) + "-" + strconv.Itoa(m) }

// Unfinished names the k-th tag (from 1) of a minor wave whose builds are done while some
// of its failures are not settled yet: "wave-3-2pre", then "wave-3-2pre2" for a later
// commit. minor is the minor wave's name (Minor). Parse does not read these: they are not
// wave names.
func Unfinished(minor string, k int) string {
	if k <= 1 {
		return minor + "pre"
	}
	return minor + "pre" + strconv.Itoa(k)
}

// Parse reads a wave name made with prefix: "wave-3" is major wave 3 (minor 0), "wave-3-2"
// minor wave 2 of it. Numbers are positive, in decimal, without sign or leading zeros, so
// that only names Major and Minor make are read; ok is false for anything else.
func Parse(prefix, name string) (major, minor int, ok bool) {
	rest, found := strings.CutPrefix(name, Prefix(prefix)+"-")
	if !found {
		return 0, 0, false
	}
	a, b, two := strings.Cut(rest, "-")
	if major, ok = number(a); !ok {
		return 0, 0, false
	}
	if !two {
		return major, 0, true
	}
	if minor, ok = number(b); !ok {
		return 0, 0, false
	}
	return major, minor, true
}

// number reads a positive decimal number as Major and Minor write it.
func number(s string) (int, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
