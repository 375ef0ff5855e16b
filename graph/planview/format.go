package planview

import (
	"fmt"
	"math"
	"strings"

	"github.com/crestwaves/crest/charts"
)

// ShortKey shortens a Nix derivation key ("<32-character hash>-<name>") to its name, the
// part a person reads; other keys come back unchanged. Only displays use it: JSON keeps
// full keys.
func ShortKey(k string) string {
	const hashLen = 32
	if len(k) <= hashLen+1 || k[hashLen] != '-' {
		return k
	}
	for _, c := range k[:hashLen] {
		// Nix's base32 alphabet: digits and lowercase letters without e, o, u, t.
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') || strings.ContainsRune("eout", c) {
			return k
		}
	}
	return k[hashLen+1:]
}

// listKeys shows up to max short keys and how many more there are.
func listKeys(keys []string, max int) string {
	if len(keys) == 0 {
		return "-"
	}
	shown := make([]string, 0, min(len(keys), max))
	for _, k := range keys[:min(len(keys), max)] {
		shown = append(shown, ShortKey(k))
	}
	s := strings.Join(shown, ", ")
	if len(keys) > max {
		s += fmt.Sprintf(" +%d more", len(keys)-max)
	}
	return s
}

// Duration formats seconds the way people plan builds: "45s", "12m", "3h 12m", "2d 4h".
func Duration(sec float64) string {
	s := int64(math.Round(sec))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", (s+30)/60)
	case s < 86400:
		m := (s + 30) / 60
		return fmt.Sprintf("%dh %02dm", m/60, m%60)
	default:
		h := (s + 1800) / 3600
		return fmt.Sprintf("%dd %02dh", h/24, h%24)
	}
}

// Hours formats builder-seconds as builder-hours with thousands separators: "3,404.0 h".
func Hours(sec float64) string {
	return charts.Thousands(sec/3600, 1) + " h"
}

// count formats an integer with thousands separators.
func count(n int) string { return charts.Thousands(float64(n), 0) }
