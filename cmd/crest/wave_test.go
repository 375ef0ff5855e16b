package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseWave(t *testing.T) {
	for in, want := range map[string][2]int{
		"wave-3": {3, 0}, "wave-3-2": {3, 2}, "wave-12-10": {12, 10}, "3": {3, 0}, "3-2": {3, 2}, "nixos-wave-4-1": {4, 1},
	} {
		major, minor, err := parseWave(in)
		require.NoError(t, err, in)
		require.Equal(t, want, [2]int{major, minor}, in)
	}
	for _, bad := range []string{"", "wave", "wave-", "wave-x", "wave-1-2-3"} {
		_, _, err := parseWave(bad)
		require.Error(t, err, bad)
	}
}
