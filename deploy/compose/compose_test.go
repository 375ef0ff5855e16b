package compose_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/compose"
)

func TestInterpolate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"A": "a", "E": ""}
	for in, want := range map[string]string{
		"${A}":            "a",
		"${B:-x}":         "x",
		"${E:-x}":         "x",
		"${E-x}":          "",
		"${A:?missing}/b": "a/b",
		"${E?unset}":      "",
		"${A:+alt}":       "alt",
		"${E:+alt}":       "",
		"${E+alt}":        "alt",
		"${B+alt}":        "",
		"$$A":             "$A",
		"$A-$B":           "a-",
	} {
		got, err := compose.Interpolate(in, vars)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"${B:?set B}", "${E:?set E}", "${B?set B}"} {
		_, err := compose.Interpolate(in, vars)
		require.ErrorContains(t, err, "required variable not set", in)
	}
	require.Equal(t, []compose.Var{{Name: "A", Op: ":-", Arg: "x"}, {Name: "B"}}, compose.Vars("${A:-x}/$B $$C"))
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "compose.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// TestLoad: merge keys resolve, values are interpolated once ($$ stays a $), mounts parse.
func TestLoad(t *testing.T) {
	t.Parallel()
	p := write(t, `
name: x
x-base: &base
  image: ${IMAGE:-img:1}
  environment: &env
    A: $${NOT_A_VAR}
services:
  one:
    <<: *base
    command: ["run", "${ARG}"]
    environment:
      <<: *env
      B: "2"
    volumes: ["data:/data", "./f.yaml:/etc/f.yaml:ro", "/scratch"]
    deploy: {replicas: 3}
volumes:
  data:
`)
	proj, err := compose.Load(p, map[string]string{"ARG": "go"})
	require.NoError(t, err)
	s := proj.Services["one"]
	require.Equal(t, "img:1", s.Image)
	require.Equal(t, []string{"run", "go"}, s.Command)
	require.Equal(t, map[string]string{"A": "${NOT_A_VAR}", "B": "2"}, s.Environment)
	require.Equal(t, 3, s.Replicas())
	mounts, err := s.Mounts()
	require.NoError(t, err)
	require.Equal(t, []compose.Mount{{Source: "data", Target: "/data"}, {Source: "./f.yaml", Target: "/etc/f.yaml", ReadOnly: true},
		{Target: "/scratch"}}, mounts)
	require.False(t, mounts[0].Bind())
	require.True(t, mounts[1].Bind())
	require.Contains(t, proj.Volumes, "data")
}

// TestLoadStrict: what the package does not know fails, so that nothing is silently ignored.
func TestLoadStrict(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"unknown service key": "services:\n  a:\n    image: x:1\n    depend_on: [b]\n",
		"unknown top level":   "services:\n  a: {image: x:1}\nnetwork: {}\n",
		"list environment":    "services:\n  a:\n    image: x:1\n    environment: [A=1]\n",
		"volume options":      "services:\n  a: {image: x:1}\nvolumes:\n  v: {driver: nfs}\n",
		"missing variable":    "services:\n  a: {image: \"${IMAGE:?set IMAGE}\"}\n",
		"no services":         "name: x\n",
	} {
		_, err := compose.Load(write(t, text), nil)
		require.Error(t, err, name)
	}
}

// TestLoadCrestCompose: deploy/compose/compose.yaml loads strictly once .env's required
// variables are set.
func TestLoadCrestCompose(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"CREST_DB_PASSWORD": "p", "TEMPORAL_DB_PASSWORD": "q",
		"CREST_CACHE_PUBLIC_KEY": "k", "CREST_CACHE_SECRET_KEY": "s"}
	proj, err := compose.Load("compose.yaml", vars)
	require.NoError(t, err)
	require.Contains(t, proj.Services, "crest-orchestrator")
	_, err = compose.Load("compose.yaml", nil)
	require.ErrorContains(t, err, "CREST_DB_PASSWORD")
}
