package demo

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	crest "github.com/crestwaves/crest"
)

// Identity and clock of every demo commit: fixed, so that commit hashes are the same on every
// machine and every run.
const (
	authorName  = "Crest Demo"
	authorEmail = "demo@crest.invalid"
	// epoch is the main commit's date (2024-11-01T12:00:00Z); scenario commits follow hourly.
	epoch = 1730462400
)

// root is the collection's directory inside crest.DemoCollection; scenarioDir holds the files
// of the scenario branches, which are not part of main.
const (
	root        = "testdata/demo"
	scenarioDir = "scenarios"
)

// Repo is a demo collection repository made by Create.
type Repo struct {
	// Remote is the bare repository that stands in for the collection's remote; git accepts
	// the path as a URL.
	Remote string `json:"remote"`
	// Main is the default branch, MainBranch.
	Main string `json:"main"`
	// Commits maps every branch to its head commit.
	Commits map[string]string `json:"commits"`
	// Scenarios are the scenario branches with their commits, as Scenarios lists them.
	Scenarios []Scenario `json:"scenarios"`
	// ProtectedRoots are the packages whose closure must never be marked broken.
	ProtectedRoots []string `json:"protected_roots"`
	// SystemTests are the tests a security patch runs against grafted outputs.
	SystemTests []string `json:"system_tests"`
}

// Scenario returns the scenario of a branch.
func (r Repo) Scenario(branch string) (Scenario, bool) {
	for _, s := range r.Scenarios {
		if s.Branch == branch {
			return s, true
		}
	}
	return Scenario{}, false
}

// Create makes the demo collection repository under dir (created if missing): a bare
// repository dir/collection.git holding main and every scenario branch, each scenario a
// single commit on its base. Commits have a fixed author, committer and date, so Create
// gives the same hashes every time. It refuses to overwrite an existing repository.
func Create(ctx context.Context, dir string) (Repo, error) {
	remote, err := filepath.Abs(filepath.Join(dir, "collection.git"))
	if err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	if _, err := os.Stat(remote); err == nil {
		return Repo{}, fmt.Errorf("create demo: %s already exists", remote)
	}
	mainFiles, overlays, err := collectionFiles()
	if err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	scenarios := Scenarios()
	stream, err := fastImport(mainFiles, overlays, scenarios)
	if err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	if _, err := git(ctx, "", nil, "init", "--quiet", "--bare", "--template=", "--initial-branch="+MainBranch, remote); err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	if _, err := git(ctx, remote, stream, "fast-import", "--quiet", "--done"); err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	out, err := git(ctx, remote, nil, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads")
	if err != nil {
		return Repo{}, fmt.Errorf("create demo: %w", err)
	}
	repo := Repo{Remote: remote, Main: MainBranch, Commits: map[string]string{}, ProtectedRoots: ProtectedRoots(), SystemTests: SystemTests()}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if branch, commit, ok := strings.Cut(line, " "); ok {
			repo.Commits[branch] = commit
		}
	}
	for i := range scenarios {
		scenarios[i].Commit = repo.Commits[scenarios[i].Branch]
		if scenarios[i].Commit == "" {
			return Repo{}, fmt.Errorf("create demo: branch %s is missing after import", scenarios[i].Branch)
		}
	}
	repo.Scenarios = scenarios
	return repo, nil
}

// Export writes the tree of ref (a branch or commit of the demo repository) into dir, without
// git metadata: what an evaluation of that commit sees.
func (r Repo) Export(ctx context.Context, ref, dir string) error {
	out, err := git(ctx, r.Remote, nil, "archive", "--format=tar", ref)
	if err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	if err := untar(strings.NewReader(out), dir); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	return nil
}

// collectionFiles reads the embedded collection: the files of main (everything outside
// scenarios/) and, per scenario branch, the files its commit replaces or adds.
func collectionFiles() (map[string][]byte, map[string]map[string][]byte, error) {
	sub, err := fs.Sub(crest.DemoCollection, root)
	if err != nil {
		return nil, nil, err
	}
	branches := map[string]bool{}
	for _, s := range Scenarios() {
		branches[s.Branch] = true
	}
	mainFiles := map[string][]byte{}
	overlays := map[string]map[string][]byte{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		rest, ok := strings.CutPrefix(p, scenarioDir+"/")
		if !ok {
			mainFiles[p] = data
			return nil
		}
		// scenarios/<kind>/<name>/<path in the collection>
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 3 || !branches[parts[0]+"/"+parts[1]] {
			return fmt.Errorf("%s/%s belongs to no scenario branch", root, p)
		}
		branch := parts[0] + "/" + parts[1]
		if overlays[branch] == nil {
			overlays[branch] = map[string][]byte{}
		}
		overlays[branch][parts[2]] = data
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded collection: %w", err)
	}
	if len(mainFiles) == 0 {
		return nil, nil, errors.New("the embedded collection is empty")
	}
	for b := range branches {
		if len(overlays[b]) == 0 {
			return nil, nil, fmt.Errorf("scenario %s has no files under %s/%s/%s", b, root, scenarioDir, b)
		}
	}
	return mainFiles, overlays, nil
}

// fastImport renders the whole repository as one git fast-import stream: main's commit, then
// one commit per scenario on its base. Paths are written in sorted order and dates are fixed.
func fastImport(mainFiles map[string][]byte, overlays map[string]map[string][]byte, scenarios []Scenario) ([]byte, error) {
	var b bytes.Buffer
	mark := 0
	blob := func(data []byte) int {
		mark++
		fmt.Fprintf(&b, "blob\nmark :%d\ndata %d\n", mark, len(data))
		b.Write(data)
		b.WriteByte('\n')
		return mark
	}
	commit := func(branch string, from int, date int64, message string, files map[string][]byte) int {
		paths := make([]string, 0, len(files))
		for p := range files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		marks := make([]int, len(paths))
		for i, p := range paths {
			marks[i] = blob(files[p])
		}
		mark++
		fmt.Fprintf(&b, "commit refs/heads/%s\nmark :%d\n", branch, mark)
		fmt.Fprintf(&b, "author %s <%s> %d +0000\n", authorName, authorEmail, date)
		fmt.Fprintf(&b, "committer %s <%s> %d +0000\n", authorName, authorEmail, date)
		fmt.Fprintf(&b, "data %d\n%s\n", len(message), message)
		if from != 0 {
			fmt.Fprintf(&b, "from :%d\n", from)
		}
		for i, p := range paths {
			fmt.Fprintf(&b, "M 100644 :%d %s\n", marks[i], p)
		}
		b.WriteByte('\n')
		return mark
	}

	heads := map[string]int{}
	heads[MainBranch] = commit(MainBranch, 0, epoch, "Demo collection\n\nA package collection in the shape of Nixpkgs for Crest; see README.md.\n", mainFiles)
	for i, s := range scenarios {
		from, ok := heads[s.Base]
		if !ok {
			return nil, fmt.Errorf("scenario %s: base %s comes later or does not exist", s.Branch, s.Base)
		}
		for p := range overlays[s.Branch] {
			if _, ok := mainFiles[p]; !ok {
				return nil, fmt.Errorf("scenario %s: %s is not a file of main", s.Branch, p)
			}
		}
		heads[s.Branch] = commit(s.Branch, from, epoch+int64(i+1)*int64(time.Hour/time.Second), s.Message, overlays[s.Branch])
	}
	b.WriteString("done\n")
	return b.Bytes(), nil
}

// git runs git in dir with a configuration of its own (no system or user settings, C
// locale), so that the repository comes out the same everywhere.
func git(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	sub := args[0]
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("git is not installed (apt-get install git): %w", err)
		}
		return "", fmt.Errorf("git %s: %w: %s", sub, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// untar extracts the regular files and directories of a git archive into dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode)&0o777|0o200)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
