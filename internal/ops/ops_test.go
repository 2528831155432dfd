package ops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/ops"
)

// TestContractTable: every operation of api/openapi.yaml has its rules and
// names a known upstream; spot checks of what the table says.
func TestContractTable(t *testing.T) {
	spec, err := api.GetSpec() // the generated code's copy: both must agree
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Load(spec); err != nil {
		t.Fatalf("Load(generated spec) = %v", err)
	}
	table, err := ops.Contract()
	if err != nil {
		t.Fatalf("Contract() = %v", err)
	}
	if n, want := len(table.All()), len(spec.Paths.Map()); n < want {
		t.Errorf("%d operations, want at least one per path (%d)", n, want)
	}
	for _, tc := range []struct {
		id       string
		upstream string
		family   string
		ttl      time.Duration
		scope    string
		maxBody  int64
		stream   bool
	}{
		{"getHealthz", ops.Gateway, "", 0, ops.ScopeCredential, ops.DefaultMaxBody, false},
		{"garantGetTopic", "garant", "topic_info", 2 * time.Hour, ops.ScopeCredential, ops.DefaultMaxBody, false},
		{"garantSearch", "garant", "", 15 * time.Minute, ops.ScopeTenant, ops.DefaultMaxBody, false},
		{"garantFindHyperlinks", "garant", "links_control", 24 * time.Hour, ops.ScopeTenant, 24 << 20, false},
		{"fsspSearchGroup", "fssp", "group", 0, ops.ScopeCredential, ops.DefaultMaxBody, false},
		{"fipsPutDocumentFile", "fips", "", 0, ops.ScopeCredential, 20 << 20, true},
	} {
		o, ok := table.Get(tc.id)
		if !ok {
			t.Errorf("Get(%s) = none", tc.id)
			continue
		}
		if o.Upstream != tc.upstream || o.Family != tc.family || o.CacheTTL != tc.ttl || o.CacheScope != tc.scope || o.MaxBody != tc.maxBody || o.StreamBody != tc.stream {
			t.Errorf("Get(%s) = %+v, want upstream %s family %q ttl %v scope %q max body %d stream %v",
				tc.id, o, tc.upstream, tc.family, tc.ttl, tc.scope, tc.maxBody, tc.stream)
		}
	}
	for _, o := range table.All() {
		if native := strings.HasPrefix(o.Path, "/compat/"); o.Native != native {
			t.Errorf("Get(%s).Native = %v, want %v (the upstream's own shapes are exactly /compat/...)", o.ID, o.Native, native)
		}
	}
	for _, o := range table.All() {
		if garantNative := strings.HasPrefix(o.Path, "/compat/garant/"); garantNative != (o.ServedBy != "") {
			t.Errorf("Get(%s).ServedBy = %q, want one exactly on Garant's own routes (rewritten to their /v1 operation)", o.ID, o.ServedBy)
		}
	}
	if o, ok := table.Get("compatGarantDownloadPDF"); !ok || o.ServedBy != "garantExportTopic" || o.Upstream != "garant" {
		t.Errorf("Get(compatGarantDownloadPDF) = %+v, want served by garantExportTopic", o)
	}
	if o, ok := table.Get("compatFsspSearchGroup"); !ok || o.Family != "group" || o.Upstream != "fssp" || o.Share != ops.ShareNone {
		t.Errorf("Get(compatFsspSearchGroup) = %+v, want fssp's group family as fsspSearchGroup", o)
	}
	for _, kind := range []string{"physical", "legal", "ip", "group"} {
		if o, ok := table.Task("fssp", kind); !ok || o.Native || o.Family == "" {
			t.Errorf("Task(fssp, %s) = %+v, want the metered /v1 search that submits it", kind, o)
		}
	}
	if got := strings.Join(table.Upstreams(), ","); got != "garant,fssp,fips" {
		t.Errorf("Upstreams() = %s, want garant,fssp,fips", got)
	}
}

// TestLoadRefuses: an operation without rules, with an unknown upstream or
// an unknown rule fails the load and is named.
func TestLoadRefuses(t *testing.T) {
	const head = "openapi: 3.0.3\nx-gateway-upstreams: [alpha]\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      operationId: getX\n      responses: {'200': {description: ok}}\n"
	for _, tc := range []struct{ name, ext, want string }{
		{"no rules", "", "has no x-gateway rules"},
		{"unknown upstream", "      x-gateway: {upstream: beta}\n", "upstream beta is not in x-gateway-upstreams"},
		{"unknown rule", "      x-gateway: {upstream: alpha, speed: fast}\n", `unknown rule "speed"`},
		{"bad ttl", "      x-gateway: {upstream: alpha, cache: {ttl: soon}}\n", "cache.ttl"},
		{"bad scope", "      x-gateway: {upstream: alpha, cache: {ttl: 1h, scope: world}}\n", "cache.scope"},
		{"gateway quota", "      x-gateway: {upstream: gateway, quota: f}\n", "no quota or cache"},
		{"native not a bool", "      x-gateway: {upstream: alpha, native: yes please}\n", "native"},
		{"served_by without native", "      x-gateway: {upstream: alpha, served_by: getX}\n", "served_by needs native"},
		{"served_by no operation", "      x-gateway: {upstream: alpha, native: true, served_by: getY}\n", "served_by: getY is not an operation"},
		{"served_by itself served", "      x-gateway: {upstream: alpha, native: true, served_by: getX}\n", "served_by: getX is not an operation"},
		{"task not a name", "      x-gateway: {upstream: alpha, task: ''}\n", "task"},
	} {
		spec, err := openapi3.NewLoader().LoadFromData([]byte(head + tc.ext))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = ops.Load(spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "getX") {
			t.Errorf("%s: Load = %v, want an error naming getX with %q", tc.name, err, tc.want)
		}
	}
}

// TestLoadRefusesTwoOperationsOfOneTask: a task kind is submitted by one
// operation of its upstream, the one it is metered under.
func TestLoadRefusesTwoOperationsOfOneTask(t *testing.T) {
	const doc = "openapi: 3.0.3\nx-gateway-upstreams: [alpha]\ninfo: {title: t, version: '1'}\npaths:\n" +
		"  /x:\n    post:\n      operationId: postX\n      x-gateway: {upstream: alpha, task: k}\n      responses: {'200': {description: ok}}\n" +
		"  /y:\n    post:\n      operationId: postY\n      x-gateway: {upstream: alpha, task: k}\n      responses: {'200': {description: ok}}\n"
	spec, err := openapi3.NewLoader().LoadFromData([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Load(spec); err == nil || !strings.Contains(err.Error(), "task: k is already") {
		t.Errorf("Load(two operations of task k) = %v, want an error naming the second", err)
	}
}
