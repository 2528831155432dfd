package tenant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func hash(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }

func TestAuthenticate(t *testing.T) {
	r := NewRegistry()
	a := &Tenant{ID: "a"}
	b := &Tenant{ID: "b"}
	if err := r.AddTenant(a, []string{hash("key-a1"), hash("key-a2")}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddTenant(b, []string{hash("key-b")}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"key-a1": "a", "key-a2": "a", "key-b": "b", "": "", "key-c": "", "KEY-A1": ""} {
		got, ok := r.Authenticate(key)
		id := ""
		if ok {
			id = got.ID
		}
		if id != want {
			t.Errorf("Authenticate(%q) = %q, want %q", key, id, want)
		}
	}
	if err := r.AddTenant(&Tenant{ID: "c"}, []string{"nothex"}); err == nil {
		t.Errorf("AddTenant(bad hash) = nil, want an error")
	}
	// A key of two tenants would authenticate as whichever came last.
	if err := r.AddTenant(&Tenant{ID: "d"}, []string{hash("key-d"), hash("key-b")}); err == nil || !strings.Contains(err.Error(), "tenant b") {
		t.Errorf("AddTenant(b's key hash under d) = %v, want an error naming tenant b", err)
	}
	if got, _ := r.Authenticate("key-b"); got != b {
		t.Errorf("Authenticate(key-b) after the refused tenant = %v, want b", got)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("super-secret-token")
	c := Credential{Name: "g", Secret: s}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "cred", c, "secret", s)
	j, _ := json.Marshal(c)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", c, c, c, s), string(j), logged.String()} {
		if strings.Contains(out, "super-secret-token") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "super-secret-token" {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}
