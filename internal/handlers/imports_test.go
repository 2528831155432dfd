package handlers_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHandlersStayThin: the handlers decode, call a service and encode; the
// quota engine and the cache are the services' business (garantsvc,
// fssptasks, usage), so no file of the package imports them.
func TestHandlersStayThin(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{
		"github.com/legalgate/legalgate/internal/quota": true,
		"github.com/legalgate/legalgate/internal/cache": true,
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); banned[path] {
				t.Errorf("%s imports %s, want it reached through a service", f, path)
			}
		}
	}
}
