package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCodeMapsMatchTree: the package tables of README.md and
// docs/ARCHITECTURE.md name every package under cmd/ and internal/ (by its
// path, or by its name in its parent's row), and every path their first
// column names exists.
func TestCodeMapsMatchTree(t *testing.T) {
	root := filepath.Join("..", "..")
	var pkgs []string
	for _, top := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.Contains(p, "testdata") {
				return err
			}
			dir, _ := filepath.Rel(root, filepath.Dir(p))
			if len(pkgs) == 0 || pkgs[len(pkgs)-1] != dir {
				pkgs = append(pkgs, filepath.ToSlash(dir))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	named := regexp.MustCompile("(?:cmd|internal)/[a-z0-9/_-]*")
	for _, doc := range []string{"README.md", "docs/ARCHITECTURE.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		var rows, firsts strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "| `cmd/") || strings.HasPrefix(line, "| `internal/") {
				first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
				rows.WriteString(line + "\n")
				firsts.WriteString(first + "\n")
			}
		}
		table := rows.String()
		for _, p := range pkgs {
			base := regexp.QuoteMeta(filepath.Base(p))
			if !strings.Contains(table, "`"+p+"`") && !regexp.MustCompile("[`{,]"+base+"[`},]").MatchString(table) {
				t.Errorf("%s: the code map does not name %s", doc, p)
			}
		}
		for _, p := range named.FindAllString(firsts.String(), -1) {
			if _, err := os.Stat(filepath.Join(root, strings.TrimSuffix(p, "/"))); err != nil {
				t.Errorf("%s: the code map names %s, which does not exist", doc, p)
			}
		}
	}
}
