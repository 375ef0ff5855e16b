package manifests

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

func dockerfile(t *testing.T, root string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(readFile(t, root, "deploy", "Dockerfile"), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	require.Zero(t, cur.Len(), "Dockerfile ends inside a continued line")
	return out
}

// stages splits the instructions at FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

var (
	goLineRE  = regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`)
	golangRE  = regexp.MustCompile(`^golang:(\d+)\.(\d+)(?:\.(\d+))?\b`)
	uidArgRE  = regexp.MustCompile(`^CREST_UID=(\d+)$`)
	userRE    = regexp.MustCompile(`^(\S+?)(?::\S+)?$`)
	useraddRE = regexp.MustCompile(`useradd\b[^&;]*--uid "?\$\{?CREST_UID\}?"?[^&;]*\s(\w+)\s*(?:&&|$)`)
)

// dockerfileUID is the uid of the image's crest user (ARG CREST_UID).
func dockerfileUID(t *testing.T, root string) int64 {
	t.Helper()
	for _, in := range dockerfile(t, root) {
		if in.cmd == "ARG" {
			if m := uidArgRE.FindStringSubmatch(in.args); m != nil {
				uid, err := strconv.ParseInt(m[1], 10, 64)
				require.NoError(t, err)
				return uid
			}
		}
	}
	t.Fatal("deploy/Dockerfile: no ARG CREST_UID=<uid>")
	return 0
}

func version(m []string) [3]int {
	var v [3]int
	for i := 0; i < 3; i++ {
		if i+1 < len(m) && m[i+1] != "" {
			v[i], _ = strconv.Atoi(m[i+1])
		}
	}
	return v
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	st := stages(dockerfile(t, root))
	require.GreaterOrEqual(t, len(st), 2, "multi-stage: build and runtime")

	// Build stage: the toolchain go.mod asks for, and nothing downloaded instead.
	build := st[0]
	from := strings.Fields(build[0].args)[0]
	m := golangRE.FindStringSubmatch(from)
	require.NotNil(t, m, "the build stage starts FROM golang:<version>: %s", from)
	goMod := goLineRE.FindStringSubmatch(readFile(t, root, "go.mod"))
	require.NotNil(t, goMod, "go.mod has a go line")
	image, need := version(m), version(goMod)
	require.Equal(t, need[:2], image[:2], "%s: go.mod says go %s.%s", from, goMod[1], goMod[2])
	require.GreaterOrEqual(t, image[2], need[2], "%s is older than go.mod's go %s.%s.%s; with GOTOOLCHAIN=local it cannot build", from, goMod[1], goMod[2], goMod[3])
	var env, buildCmd string
	for _, in := range build {
		switch in.cmd {
		case "ENV":
			env += " " + in.args
		case "RUN":
			if strings.Contains(in.args, "go build") {
				buildCmd = in.args
			}
		}
	}
	require.Contains(t, strings.Fields(env), "GOTOOLCHAIN=local")
	require.Contains(t, buildCmd, "-trimpath")
	require.Contains(t, buildCmd, "./cmd/crest")

	// Runtime stage: git and Nix, a non-root user, crest as entrypoint.
	rt := st[len(st)-1]
	var runs, user, entrypoint string
	var copied bool
	for _, in := range rt {
		switch in.cmd {
		case "RUN":
			runs += in.args + "\n"
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			if strings.Contains(in.args, "--from=") && strings.Contains(in.args, "/usr/local/bin/crest") {
				copied = true
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				name, _, _ := strings.Cut(kv, "=")
				if strings.HasPrefix(name, "CREST_") {
					require.Contains(t, loadCrestConfig(t).env, name, "Dockerfile ENV %s is no config key", name)
				}
			}
		}
	}
	require.True(t, copied, "the runtime stage copies crest from the build stage to /usr/local/bin/crest")
	for _, pkg := range []string{"git", "nix-bin", "ca-certificates"} {
		require.Regexp(t, `apt-get install[^\n]*\s`+regexp.QuoteMeta(pkg)+`(\s|$)`, runs, "the runtime installs %s", pkg)
	}
	require.Contains(t, runs, "--no-install-recommends", "nix-bin recommends nix-setup-systemd (systemd, a daemon)")
	require.Contains(t, runs, "sandbox = false", "Nix configured as Debian's nix-setup-systemd does")

	um := userRE.FindStringSubmatch(user)
	require.NotNil(t, um, "the runtime stage sets USER")
	require.NotContains(t, []string{"root", "0"}, um[1], "the image runs as a non-root user")
	ua := useraddRE.FindStringSubmatch(runs)
	require.NotNil(t, ua, "the runtime stage creates its user with useradd --uid $CREST_UID")
	uid := dockerfileUID(t, root)
	require.Contains(t, []string{ua[1], strconv.FormatInt(uid, 10)}, um[1], "USER is the user created with CREST_UID")
	require.NotEqual(t, int64(0), uid)
	require.Regexp(t, `chown -R `+regexp.QuoteMeta(ua[1])+`\S* [^\n]*/nix\b`, runs, "the user owns /nix (single-user Nix store)")

	var ep []string
	require.NoError(t, json.Unmarshal([]byte(entrypoint), &ep), "ENTRYPOINT in exec form: %s", entrypoint)
	require.NotEmpty(t, ep)
	require.Equal(t, "/usr/local/bin/crest", ep[len(ep)-1], "the entrypoint ends in crest, so that manifests pass only the subcommand")
	for _, arg := range ep[:len(ep)-1] {
		require.True(t, arg == "--" || filepath.Base(arg) == "tini", "entrypoint: only an init (tini --) before crest, got %v", ep)
	}
}
