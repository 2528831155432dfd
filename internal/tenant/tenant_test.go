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
