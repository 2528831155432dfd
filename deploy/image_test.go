package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfile returns the instructions of ../Dockerfile, continuation lines
// joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

func instructions(t *testing.T, keyword string) []string {
	t.Helper()
	var out []string
	for _, in := range dockerfile(t) {
		if k, rest, _ := strings.Cut(in, " "); strings.EqualFold(k, keyword) {
			out = append(out, rest)
		}
	}
	return out
}

// imageBinary is the gateway binary's path in the image (its ENTRYPOINT).
func imageBinary(t *testing.T) string {
	t.Helper()
	ep := instructions(t, "ENTRYPOINT")
	if len(ep) != 1 {
		t.Fatalf("Dockerfile has %d ENTRYPOINTs, want 1", len(ep))
	}
	m := regexp.MustCompile(`^\["([^"]+)"\]$`).FindStringSubmatch(ep[0])
	if m == nil {
		t.Fatalf("ENTRYPOINT %s, want the exec form with the gateway binary", ep[0])
	}
	return m[1]
}

// TestDockerfile: base images pinned by exact version or digest, a non-root
// user, and a HEALTHCHECK that runs the binary's own probe against /readyz
// on the port the image's CMD listens on.
func TestDockerfile(t *testing.T) {
	pinned := regexp.MustCompile(`^\S+(:\d+\.\d+\.\d+\S*|@sha256:[0-9a-f]{64})(\s+AS\s+\S+)?$`)
	for _, from := range instructions(t, "FROM") {
		if !pinned.MatchString(from) {
			t.Errorf("FROM %s: want the image pinned by an exact version (x.y.z) or a sha256 digest", from)
		}
	}
	if u := instructions(t, "USER"); len(u) == 0 || strings.HasPrefix(u[len(u)-1], "root") || strings.HasPrefix(u[len(u)-1], "0") {
		t.Errorf("USER %v, want the image to run as a non-root user", u)
	}
	cmd := instructions(t, "CMD")
	m := regexp.MustCompile(`"-addr",\s*"[^"]*:(\d+)"`).FindStringSubmatch(strings.Join(cmd, " "))
	if m == nil {
		t.Fatalf("CMD %v sets no -addr", cmd)
	}
	hc := instructions(t, "HEALTHCHECK")
	want := `CMD ["` + imageBinary(t) + `", "-probe", "http://127.0.0.1:` + m[1] + `/readyz"]`
	if len(hc) != 1 || !strings.HasSuffix(hc[0], want) || !strings.Contains(hc[0], "--timeout=") {
		t.Errorf("HEALTHCHECK %v, want one with a --timeout ending in %s", hc, want)
	}
}

// TestDockerignore: the build context leaves out the repository's history and
// everything local builds and benchmarks leave behind.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	for _, want := range []string{".git", "bench/", "bin/", "*.test", "*.out", "*.prof"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	for _, l := range lines {
		for _, needed := range []string{"go.mod", "go.sum", "api", "cmd", "internal", "client", "scripts"} {
			if strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/") == needed {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}
