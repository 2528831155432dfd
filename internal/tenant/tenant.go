// Package tenant knows the gateway's callers and the upstream accounts they
// use: it authenticates an API key (stored only as SHA-256, compared in
// constant time) and carries the tenant, never the key, in the request context.
package tenant

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// Secret is an upstream token or key. It never prints: fmt, slog and JSON see
// "[redacted]". Reveal returns the value for the one place that sends it.
type Secret struct{ v string }

// NewSecret wraps a secret value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return "[redacted]" }

// MarshalText hides the value from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Credential is one upstream account.
type Credential struct {
	Name      string
	Upstream  string
	Secret    Secret
	ExpiresAt time.Time // zero: unknown
}

// Tenant is one calling service.
type Tenant struct {
	ID          string
	Admin       bool
	Credentials map[string]*Credential // upstream → credential
	keyHashes   [][]byte
	registry    *Registry
}

// Registry returns the registry the tenant was authenticated by: the one
// configuration a request sees from its start to its end.
func (t *Tenant) Registry() *Registry { return t.registry }

// Credential returns the tenant's credential for an upstream.
func (t *Tenant) Credential(upstream string) (*Credential, bool) {
	c, ok := t.Credentials[upstream]
	return c, ok
}

// CredentialNames returns upstream → credential name.
func (t *Tenant) CredentialNames() map[string]string {
	m := make(map[string]string, len(t.Credentials))
	for up, c := range t.Credentials {
		m[up] = c.Name
	}
	return m
}

// Registry holds every tenant and credential of one configuration. It is
// built once (NewRegistry, AddCredential, AddTenant) and then only read: a
// new configuration is a new Registry, swapped in whole by Live.
type Registry struct {
	// Generation counts the configurations loaded since start-up (1: the
	// first).
	Generation  uint64
	tenants     []*Tenant
	credentials map[string]*Credential
}

// Load returns r itself: a fixed registry is its own Source.
func (r *Registry) Load() *Registry { return r }

// Source gives the registry in force. A request loads it once, at its start.
type Source interface {
	Load() *Registry
}

// Live is the registry in force while the configuration may be reloaded:
// Store swaps a new one in whole, and requests that loaded the old one keep
// it to their end. It is safe for concurrent use.
type Live struct{ p atomic.Pointer[Registry] }

// NewLive returns a Live holding r.
func NewLive(r *Registry) *Live {
	l := &Live{}
	l.p.Store(r)
	return l
}

// Load returns the registry in force.
func (l *Live) Load() *Registry { return l.p.Load() }

// Store makes r the registry in force.
func (l *Live) Store(r *Registry) { l.p.Store(r) }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{credentials: map[string]*Credential{}} }

// AddCredential registers an upstream account.
func (r *Registry) AddCredential(c *Credential) { r.credentials[c.Name] = c }

// Credentials returns every credential, sorted by name.
func (r *Registry) Credentials() []*Credential {
	out := make([]*Credential, 0, len(r.credentials))
	for _, c := range r.credentials {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Credential returns the credential with that name.
func (r *Registry) Credential(name string) (*Credential, bool) {
	c, ok := r.credentials[name]
	return c, ok
}

// AddTenant registers a tenant with its key hashes (lower-case hex SHA-256).
// A hash that already belongs to another tenant is refused: a key identifies
// one tenant.
func (r *Registry) AddTenant(t *Tenant, keyHashesHex []string) error {
	for _, h := range keyHashesHex {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return errBadHash
		}
		for _, other := range r.tenants {
			if other != t && slices.ContainsFunc(other.keyHashes, func(k []byte) bool { return bytes.Equal(k, b) }) {
				return errors.New("tenant: a key hash of tenant " + t.ID + " already belongs to tenant " + other.ID)
			}
		}
		t.keyHashes = append(t.keyHashes, b)
	}
	t.registry = r
	r.tenants = append(r.tenants, t)
	return nil
}

// Tenants returns every tenant.
func (r *Registry) Tenants() []*Tenant { return r.tenants }

// Authenticate returns the tenant owning key. Every stored hash is compared,
// each in constant time, so the time taken does not depend on which matched.
func (r *Registry) Authenticate(key string) (*Tenant, bool) {
	if key == "" {
		return nil, false
	}
	sum := sha256.Sum256([]byte(key))
	var found *Tenant
	for _, t := range r.tenants {
		for _, h := range t.keyHashes {
			if subtle.ConstantTimeCompare(sum[:], h) == 1 {
				found = t
			}
		}
	}
	return found, found != nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errBadHash = errString("tenant: key hash must be 64 hex characters")

type ctxKey struct{}

// NewContext returns ctx carrying t.
func NewContext(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the tenant in ctx.
func FromContext(ctx context.Context) (*Tenant, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Tenant)
	return t, ok
}

type credentialKey struct{}

// WithCredential returns ctx naming the upstream credential (its configured
// name, never the secret) that calls made with ctx use; the upstream guard
// (internal/upstreamguard) keys its breakers and pacing on it.
func WithCredential(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, credentialKey{}, name)
}

// CredentialName returns the credential name in ctx, if any.
func CredentialName(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(credentialKey{}).(string)
	return name, ok && name != ""
}
