package aisle

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documents must not cite what is not in the repository: every
// backticked repository path in README.md, docs/*.md and docs/decisions/*.md
// exists, every relative link of docs/architecture.md resolves, and every
// package has its line in the architecture's package table.

var (
	backticked = regexp.MustCompile("`([^`\\s]+)`")
	mdLink     = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	// a Go identifier after a package path: `internal/wire.SearchConfig`
	qualified = regexp.MustCompile(`^([a-z0-9_/]+)\.[A-Z]\w*$`)
	// a history record may name what a decision removed
	removedWords = regexp.MustCompile(`\b(gone|deleted|removed|replaced|renamed|no longer)\b`)
)

func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	for _, pat := range []string{"docs/*.md", "docs/decisions/*.md"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

// topDirs are the repository's top-level directories: a backticked token
// whose first segment is one of them is a repository path.
func topDirs(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs[e.Name()] = true
		}
	}
	return dirs
}

// repoPath returns the repository path a backticked token cites, if any.
func repoPath(tok string, dirs map[string]bool) (string, bool) {
	if m := qualified.FindStringSubmatch(tok); m != nil {
		tok = m[1]
	}
	tok = strings.TrimSuffix(tok, "/")
	first, _, ok := strings.Cut(tok, "/")
	if !ok || !dirs[first] || strings.ContainsAny(tok, "*{}<>$:=") {
		return "", false
	}
	return tok, true
}

func TestDocsCiteExistingFiles(t *testing.T) {
	dirs := topDirs(t)
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		history := strings.HasPrefix(f, "docs/decisions/")
		for n, line := range strings.Split(string(b), "\n") {
			if history && removedWords.MatchString(line) {
				continue
			}
			for _, m := range backticked.FindAllStringSubmatch(line, -1) {
				p, ok := repoPath(m[1], dirs)
				if !ok {
					continue
				}
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s:%d cites %s, which is not in the repository", f, n+1, m[1])
				}
			}
		}
	}
}

// inProgress lists the documents other work is writing; the architecture
// links them before they land.
var inProgress = map[string]bool{
	"postgres.md": true, "cluster.md": true, "shops.md": true, "experiments.md": true,
	"merchandising.md": true, "assistant.md": true, "hardening.md": true,
	"recommendation-quality.md": true,
}

func TestArchitectureLinksResolve(t *testing.T) {
	b, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
		target := m[1]
		if strings.Contains(target, "://") || inProgress[target] {
			continue
		}
		if _, err := os.Stat(filepath.Join("docs", target)); err != nil {
			t.Errorf("docs/architecture.md links %s, which does not exist", target)
		}
	}
}

func TestArchitectureListsEveryPackage(t *testing.T) {
	b, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if path != "." {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a separate module (bench/searchbench)
			}
		}
		if path == "." || !hasPackage(t, path) {
			return nil
		}
		if !strings.Contains(doc, "`"+filepath.ToSlash(path)+"`") {
			t.Errorf("package %s has no line in docs/architecture.md (add it to the package table with its job)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasPackage reports whether dir holds a non-test Go file.
func hasPackage(t *testing.T, dir string) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true
		}
	}
	return false
}

// No merge left its conflict markers in a document.
func TestDocsHaveNoConflictMarkers(t *testing.T) {
	for _, f := range append(docFiles(t), "docs/aisle.example.yaml") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") || line == "=======" {
				t.Errorf("%s:%d: a merge conflict marker", f, n+1)
			}
		}
	}
}
