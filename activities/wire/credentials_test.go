package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckNoCredentials(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "https://git.example/org/repo.git", "/srv/git/demo.git",
		"git@git.example:org/repo.git", "ssh://git@git.example/org/repo.git"} {
		require.NoError(t, CheckNoCredentials(ok), ok)
	}
	for url, shown := range map[string]string{
		"https://alice:s3cr3t-tok@git.example/org/repo.git": "https://***@git.example/org/repo.git",
		"https://s3cr3t-tok@git.example/org/repo.git":       "https://***@git.example/org/repo.git",
		"ssh://git:s3cr3t-tok@git.example/org/repo.git":     "ssh://***@git.example/org/repo.git",
	} {
		err := CheckNoCredentials(url)
		require.ErrorContains(t, err, "repository "+shown+" carries credentials", url)
		require.ErrorContains(t, err, "git.credentials")
		require.NotContains(t, err.Error(), "s3cr3t-tok")
	}
}
