package webhooks

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/apperr"
)

func TestCheckRefuses(t *testing.T) {
	d := New(nil, testConfig(t), nil, nil)
	for _, tc := range []struct {
		tenant, url string
		ok          bool
	}{
		{"alpha", "http://127.0.0.1:9999/cb", true},
		{"alpha", "http://127.0.0.1/", true},
		{"beta", "http://127.0.0.1:9999/hooks/x?y=1", true},
		{"alpha", "https://127.0.0.1:9999/cb", false},        // another scheme
		{"alpha", "http://127.0.0.2:9999/cb", false},         // another host
		{"alpha", "http://127.0.0.1.evil.example/cb", false}, // a host that starts like the rule's
		{"alpha", "http://localhost:9999/cb", false},         // a name, not the rule's host
		{"beta", "http://127.0.0.1:9999/hook", false},        // outside the path prefix
		{"beta", "http://127.0.0.1:9999/other/hooks/", false},
		{"alpha", "http://user:pw@127.0.0.1:9999/cb", false},
		{"alpha", "http://127.0.0.1:9999/cb#frag", false},
		{"alpha", "ftp://127.0.0.1/cb", false},
		{"alpha", "/relative", false},
		{"alpha", "http://127.0.0.1:99999/cb", false},
		{"alpha", "http://127.0.0.1/" + strings.Repeat("a", MaxURLLength), false},
		{"gamma", "http://127.0.0.1:9999/cb", false}, // no webhook settings
	} {
		err := d.Check(tc.tenant, "body.callback_url", tc.url)
		if tc.ok != (err == nil) {
			t.Errorf("Check(%s, %.60s) = %v, want ok %v", tc.tenant, tc.url, err, tc.ok)
			continue
		}
		if e, isApp := apperr.As(err); err != nil && (!isApp || e.Kind != apperr.Invalid || e.Fields[0].Field != "body.callback_url") {
			t.Errorf("Check(%s, %.60s) = %#v, want Invalid naming body.callback_url", tc.tenant, tc.url, err)
		}
	}
}

func TestRulePort(t *testing.T) {
	for _, tc := range []struct {
		rule, url string
		ok        bool
	}{
		{"https://hooks.example.com/", "https://HOOKS.example.com/x", true},
		{"https://hooks.example.com/", "https://hooks.example.com:443/x", true},
		{"https://hooks.example.com/", "https://hooks.example.com:8443/x", false},
		{"https://hooks.example.com:*/", "https://hooks.example.com:8443/x", true},
		{"https://hooks.example.com:*", "https://hooks.example.com:8443/x", true},
	} {
		u, _ := parseCallback(tc.url)
		if got := mustRule(t, tc.rule).matches(u); got != tc.ok {
			t.Errorf("Rule(%s).matches(%s) = %v, want %v", tc.rule, tc.url, got, tc.ok)
		}
	}
	for _, bad := range []string{"hooks.example.com", "ftp://x/", "https://x/?q=1", "https://u@x/", "https://x:80:*/"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) = nil error, want one", bad)
		}
	}
}

func TestAddressAllowed(t *testing.T) {
	for _, tc := range []struct {
		ip              string
		public, private bool // allowed without and with AllowPrivate
	}{
		{"93.184.216.34", true, true},
		{"2606:2800:220:1::", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"192.168.0.1", false, true},
		{"100.64.0.1", false, true},
		{"fd12::1", false, true},
		{"169.254.169.254", false, false}, // cloud metadata
		{"fd00:ec2::254", false, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"::ffff:127.0.0.1", false, true},
		{"224.0.0.1", false, false},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := addressAllowed(ip, false); got != tc.public {
			t.Errorf("addressAllowed(%s, false) = %v, want %v", tc.ip, got, tc.public)
		}
		if got := addressAllowed(ip, true); got != tc.private {
			t.Errorf("addressAllowed(%s, true) = %v, want %v", tc.ip, got, tc.private)
		}
	}
}

// fakeResolver answers one name with fixed addresses.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return f[host], nil
}

// Attempts never reach a refused address nor follow a redirect.
func TestDeliveryRefusals(t *testing.T) {
	target := newReceiver(t, nil)
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) int {
		w.Header().Set("Location", target.URL+"/hooks/landed")
		return http.StatusFound
	})
	cfg := testConfig(t)
	cfg.RetryFor = 1 // one attempt, then dead
	cfg.Tenants["gamma"] = Tenant{Keys: []Key{mustKey(t, betaSecret)}, AllowPrivate: true,
		Allow: []Rule{mustRule(t, "http://metadata.test:*/"), mustRule(t, "http://hooks.test:*/"), mustRule(t, "http://127.0.0.1:*/")}}
	port := target.URL[strings.LastIndex(target.URL, ":"):]
	cfg.Resolver = fakeResolver{
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"hooks.test":    {netip.MustParseAddr("127.0.0.1")},
	}
	f, _ := start(t, newRedis(t).Client(t), cfg)
	ctx := context.Background()
	for _, tc := range []struct {
		name, tenant, url, reason string
		code                      int
	}{
		{"private address without AllowPrivate", "beta", target.URL + "/hooks/x", "not allowed", 0},
		{"name resolving to the metadata address", "gamma", "http://metadata.test" + port + "/x", "not allowed", 0},
		{"redirect", "gamma", redirect.URL + "/x", "redirect", http.StatusFound},
	} {
		id, err := f.d.Enqueue(ctx, Message{Tenant: tc.tenant, URL: tc.url, Type: "t", Data: 1})
		if err != nil {
			t.Fatalf("%s: Enqueue = %v", tc.name, err)
		}
		dl := f.waitStatus(t, tc.tenant, id, StatusDead)
		if dl.LastStatusCode != tc.code || !strings.Contains(dl.LastError, tc.reason) || strings.Contains(dl.LastError, "127.0.0.1") {
			t.Errorf("%s: delivery = %+v, want code %d and a reason with %q and no address", tc.name, dl, tc.code, tc.reason)
		}
	}
	// The name is resolved once and the resolved address dialled.
	id, err := f.d.Enqueue(ctx, Message{Tenant: "gamma", URL: "http://hooks.test" + port + "/hooks/ok", Type: "t", Data: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.waitStatus(t, "gamma", id, StatusDelivered)
	if r := target.Next(t); r.Header.Get("webhook-id") != id {
		t.Errorf("target got webhook-id %s, want %s (nothing else: no redirect followed, no refused address reached)", r.Header.Get("webhook-id"), id)
	}
	if n := len(target.Got); n != 0 {
		t.Errorf("target got %d more requests, want 0", n)
	}
}
