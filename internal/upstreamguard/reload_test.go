package upstreamguard

import "testing"

// TestSetCredentials: a reload keeps the breaker of a credential it keeps
// unchanged, guards a new one, and stops guarding a removed one.
func TestSetCredentials(t *testing.T) {
	g, err := New(nil, Config{Failures: 1, Credentials: []Credential{
		{Upstream: "garant", Name: "kept"}, {Upstream: "garant", Name: "removed"},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := g.lookup("garant", "kept")
	if err := g.SetCredentials([]Credential{{Upstream: "garant", Name: "kept"}, {Upstream: "fips", Name: "new"}}); err != nil {
		t.Fatalf("SetCredentials() = %v, want nil", err)
	}
	if got := g.lookup("garant", "kept"); got != kept {
		t.Errorf("lookup(kept) after a reload is a new breaker, want the same one")
	}
	if g.lookup("fips", "new") == nil || g.lookup("garant", "removed") != nil {
		t.Errorf("after a reload: new guarded = %v, removed guarded = %v; want true, false",
			g.lookup("fips", "new") != nil, g.lookup("garant", "removed") != nil)
	}
	if err := g.SetCredentials([]Credential{{Upstream: "garant", Name: "a{b}"}}); err == nil {
		t.Errorf("SetCredentials(a name with braces) = nil, want an error")
	}
}
