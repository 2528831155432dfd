package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// writeRenamed replaces path the way editors and Kubernetes do: the new
// content is written beside it and renamed over it.
func writeRenamed(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// metricValue reads one sample of the admin listener's /metrics.
func metricValue(t *testing.T, admin, series string) string {
	t.Helper()
	_, body := get(t, admin+"/metrics", "")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestKeyRotationUnderLoad: while clients send requests with the old and
// the new key, the config file is replaced: the old key stops and the new
// one starts working, each request is answered by one whole configuration
// (for each client, the old key's answers are 200s then 401s, the new
// key's 401s then 200s, nothing else), the new allocation is in force, and
// a broken file afterwards changes nothing.
func TestKeyRotationUnderLoad(t *testing.T) {
	rs := redistest.Start(t)
	garant := httptest.NewServer(garantsim.New(garantsim.DefaultConfig()))
	t.Cleanup(garant.Close)
	cfgFor := func(key string, exports int) string {
		return fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
tenants:
  t:
    keys_sha256: [%s]
    credentials: {garant: g}
    limits: [{upstream: garant, family: export, period: month, limit: %d}]
upstreams:
  garant: {base_url: %q}
`, rs.URL(), config.HashKey(key), exports, garant.URL)
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfgFor("old-key", 30)), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	admin := "http://" + adminAddr
	base, logs := startGateway(t, []string{"-config", path, "-admin-addr", adminAddr}, nil)

	type answer struct {
		code int
		err  error
	}
	var (
		stop    atomic.Bool
		newSeen = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	answers := make([][]answer, 4)
	counts := make([]atomic.Int64, len(answers)) // answers so far, for the test to wait on
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	for i := range answers {
		key := []string{"old-key", "new-key"}[i%2]
		wg.Go(func() {
			for !stop.Load() {
				req, _ := http.NewRequest("GET", base+"/v1/quotas", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := c.Do(req)
				a := answer{err: err}
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					a.code = res.StatusCode
				}
				answers[i] = append(answers[i], a)
				counts[i].Add(1)
				if key == "new-key" && a.code == 200 {
					once.Do(func() { close(newSeen) })
				}
			}
		})
	}
	// waitAnswers waits until every client has n more answers.
	waitAnswers := func(n int64) {
		t.Helper()
		from := make([]int64, len(counts))
		for i := range counts {
			from[i] = counts[i].Load()
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			enough := true
			for i := range counts {
				enough = enough && counts[i].Load() >= from[i]+n
			}
			if enough {
				return
			}
		}
		t.Fatalf("the clients did not get %d more answers within 30s", n)
	}
	waitAnswers(5) // under the old file
	rotated := time.Now()
	writeRenamed(t, path, cfgFor("new-key", 40))
	select {
	case <-newSeen:
	case <-time.After(30 * time.Second):
		stop.Store(true)
		wg.Wait()
		t.Fatalf("the new key was not accepted within 30s of the file change\n%s", logs)
	}
	// A few more answers under the new file, then a broken file.
	waitAnswers(5)
	broken := time.Now()
	writeRenamed(t, path, "tenants:\n  t:\n    keys_sha256: [nothex]\n")
	if !waitLog(logs, "config reload refused") {
		t.Errorf("a broken file was not refused in the log\n%s", logs)
	}
	stop.Store(true)
	wg.Wait()

	for i, as := range answers {
		key, before, after := []string{"old-key", "new-key"}[i%2], 200, 401
		if key == "new-key" {
			before, after = 401, 200
		}
		switched := false
		var n [2]int
		for j, a := range as {
			switch {
			case a.err != nil || (a.code != before && a.code != after):
				t.Fatalf("client %d (%s) answer %d = %d, %v; want %d or %d", i, key, j, a.code, a.err, before, after)
			case a.code == after:
				switched = true
				n[1]++
			case switched:
				t.Fatalf("client %d (%s) answer %d = %d after a %d: the old configuration answered after the new one", i, key, j, a.code, after)
			default:
				n[0]++
			}
		}
		if n[1] == 0 {
			t.Errorf("client %d (%s): %d answers before the change, none after it", i, key, n[0])
		}
	}
	// The broken file changed nothing: the new key and allocation serve.
	code, body := get(t, base+"/v1/quotas", "new-key")
	if code != 200 || !strings.Contains(body, `"limit":40`) {
		t.Errorf("GET /v1/quotas after the broken file = %d %s, want 200 with the reloaded allocation of 40", code, body)
	}
	if code, _ := get(t, base+"/v1/quotas", "old-key"); code != 401 {
		t.Errorf("GET /v1/quotas with the old key = %d, want 401", code)
	}
	if code, body := get(t, base+"/readyz", ""); code != 200 || !strings.Contains(body, `"config_generation":2`) {
		t.Errorf("GET /readyz after one reload = %d %s, want 200 with config_generation 2", code, body)
	}
	if got := metricValue(t, admin, `gateway_config_reload_total{result="failure"}`); got != "1" {
		t.Errorf("gateway_config_reload_total{result=failure} = %q, want 1", got)
	}
	if got := metricValue(t, admin, `gateway_config_reload_total{result="success"}`); got != "1" {
		t.Errorf("gateway_config_reload_total{result=success} = %q, want 1", got)
	}
	// The configuration in force dates from the rotation, not the broken file.
	if v, err := strconv.ParseFloat(metricValue(t, admin, "gateway_config_last_reload_timestamp_seconds"), 64); err != nil ||
		v < float64(rotated.Unix()) || v > float64(broken.UnixNano())/1e9 {
		t.Errorf("gateway_config_last_reload_timestamp_seconds = %v (%v), want between the rotation (%d) and the broken file (%d)", v, err, rotated.Unix(), broken.Unix())
	}
	if !strings.Contains(logs.String(), `"msg":"config reloaded","trigger":"file changed"`) {
		t.Errorf("the reload is not logged\n%s", logs)
	}
	if strings.Contains(logs.String(), "old-key") || strings.Contains(logs.String(), "new-key") {
		t.Errorf("a tenant key reached the log")
	}
}

// TestReloadNamesWhatNeedsRestart: a SIGHUP after the Redis URL and a
// tenant changed takes the tenant and names redis as needing a restart.
func TestReloadNamesWhatNeedsRestart(t *testing.T) {
	rs := redistest.Start(t)
	cfg := `
redis: {url: %q}
tenants:
  %s: {keys_sha256: [%s]}
`
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(cfg, rs.URL(), "a", config.HashKey("ka"))), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs := startGateway(t, []string{"-config", path}, nil)
	if err := os.WriteFile(path, []byte(fmt.Sprintf(cfg, rs.URL()+"/1", "b", config.HashKey("kb"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitLog(logs, `"restart_needed_for":"redis"`) {
		t.Fatalf("the reload does not name redis as needing a restart\n%s", logs)
	}
	if code, _ := get(t, base+"/v1/quotas", "kb"); code != 200 {
		t.Errorf("GET /v1/quotas with the new tenant's key = %d, want 200", code)
	}
}

// TestDemoSIGHUP: the demo has no file: SIGHUP only logs that there is
// nothing to reload, and the demo goes on serving.
func TestDemoSIGHUP(t *testing.T) {
	base, logs := startGateway(t, nil, nil)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitLog(logs, "nothing to reload") {
		t.Errorf("SIGHUP on the demo does not log that there is nothing to reload\n%s", logs)
	}
	if code, _ := get(t, base+"/v1/quotas", config.DemoKeyAlpha); code != 200 {
		t.Errorf("GET /v1/quotas after SIGHUP = %d, want 200", code)
	}
}

// TestSecretFileRotation: an upstream token read from a file in another
// directory (a Kubernetes Secret) is read again when that file changes:
// calls go out with the new token.
func TestSecretFileRotation(t *testing.T) {
	rs := redistest.Start(t)
	garant := httptest.NewServer(garantsim.New(garantsim.DefaultConfig()))
	t.Cleanup(garant.Close)
	secrets := t.TempDir()
	token := filepath.Join(secrets, "garant-token")
	if err := os.WriteFile(token, []byte("revoked-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: "file:%s"}
tenants:
  t: {keys_sha256: [%s], credentials: {garant: g}}
upstreams:
  garant: {base_url: %q}
`, rs.URL(), token, config.HashKey("k"), garant.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs := startGateway(t, []string{"-config", path}, nil)
	topic := fmt.Sprintf("%s/v1/garant/topics/%d", base, garantsim.TopicCivilCode)
	if code, _ := get(t, topic, "k"); code == 200 {
		t.Fatalf("GET a topic with a revoked token = 200, want a failure")
	}
	writeRenamed(t, token, "demo-garant-token\n")
	if !waitLog(logs, `"msg":"config reloaded"`) {
		t.Fatalf("the secret file's change was not reloaded\n%s", logs)
	}
	if code, body := get(t, topic, "k"); code != 200 {
		t.Errorf("GET a topic after the token file changed = %d %s, want 200", code, body)
	}
	if strings.Contains(logs.String(), "demo-garant-token") || strings.Contains(logs.String(), "revoked-token") {
		t.Errorf("an upstream token reached the log")
	}
}

// TestSecretDirectoryNamedByReload: a reload that moves a credential's
// secret to a file in a directory the start-up configuration did not name
// watches that directory from then on: a later change of the file is
// reloaded.
func TestSecretDirectoryNamedByReload(t *testing.T) {
	rs := redistest.Start(t)
	garant := httptest.NewServer(garantsim.New(garantsim.DefaultConfig()))
	t.Cleanup(garant.Close)
	cfgWith := func(secret string) string {
		return fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: %q}
tenants:
  t: {keys_sha256: [%s], credentials: {garant: g}}
upstreams:
  garant: {base_url: %q}
`, rs.URL(), secret, config.HashKey("k"), garant.URL)
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfgWith("revoked-token")), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs := startGateway(t, []string{"-config", path}, nil)
	token := filepath.Join(t.TempDir(), "garant-token") // a directory of its own, unknown at start-up
	if err := os.WriteFile(token, []byte("revoked-token-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeRenamed(t, path, cfgWith("file:"+token))
	if !waitLog(logs, `"msg":"config reloaded"`) {
		t.Fatalf("the config file's change was not reloaded\n%s", logs)
	}
	topic := fmt.Sprintf("%s/v1/garant/topics/%d", base, garantsim.TopicCivilCode)
	if code, _ := get(t, topic, "k"); code == 200 {
		t.Fatalf("GET a topic with a revoked token = 200, want a failure")
	}
	writeRenamed(t, token, "demo-garant-token\n")
	if !waitLog(logs, `"generation":3`) {
		t.Fatalf("the change of a secret file named by a reload was not reloaded\n%s", logs)
	}
	if code, body := get(t, topic, "k"); code != 200 {
		t.Errorf("GET a topic after the token file changed = %d %s, want 200", code, body)
	}
}

// TestReloadLeavesWorkInFlight: a reload that removes the key a tenant's
// requests came in with leaves them alone: a Garant call in flight is
// answered 200, a parked long poll on an FSSP task answers the finished task
// when it finishes (not earlier, not 401), and the task's poller goes on;
// the old key is refused from the reload on, the new one sees the task.
func TestReloadLeavesWorkInFlight(t *testing.T) {
	rs := redistest.Start(t)
	// A Garant whose topic calls wait until the test releases them.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	sim := garantsim.New(garantsim.DefaultConfig())
	garant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/topic/") {
			select {
			case arrived <- struct{}{}:
			default:
			}
			<-release
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(garant.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	fsspCfg := fsspsim.DefaultConfig()
	fsspCfg.QueueFor, fsspCfg.RunFor = time.Second, 3*time.Second // long enough to park on and to reload under
	fssp := httptest.NewServer(fsspsim.New(fsspCfg))
	t.Cleanup(fssp.Close)
	cfgFor := func(key string) string {
		return fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
  f: {upstream: fssp, secret: demo-fssp-token}
tenants:
  t:
    keys_sha256: [%s]
    credentials: {garant: g, fssp: f}
upstreams:
  garant: {base_url: %q}
  fssp: {base_url: %q}
fssp: {poll_initial: 100ms, poll_max: 200ms}
`, rs.URL(), config.HashKey(key), garant.URL, fssp.URL)
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfgFor("old-key")), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	base, logs := startGateway(t, []string{"-config", path, "-admin-addr", adminAddr}, nil)

	type answer struct {
		code int
		body string
		err  error
	}
	send := func(method, path, key string, body io.Reader) answer {
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return answer{code: res.StatusCode, body: string(b)}
	}
	// A Garant call, held by the upstream.
	garantDone := make(chan answer, 1)
	go func() {
		garantDone <- send("GET", fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicCivilCode), "old-key", nil)
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatalf("the Garant call did not reach the upstream\n%s", logs)
	}
	// An FSSP task and a long poll on it, parked.
	a := send("POST", "/v1/fssp/searches/physical", "old-key",
		strings.NewReader(`{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН","birthdate":"01.01.1980"}`))
	var task struct{ ID string }
	if err := json.Unmarshal([]byte(a.body), &task); err != nil || a.code != 202 || task.ID == "" {
		t.Fatalf("FSSP search = %d %s %v, want 202 with a task", a.code, a.body, a.err)
	}
	pollDone := make(chan answer, 1)
	go func() { pollDone <- send("GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", "old-key", nil) }()
	for deadline := time.Now().Add(10 * time.Second); metricValue(t, "http://"+adminAddr, "gateway_fssp_waiters") != "1"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the long poll is not waiting on the task after 10s\n%s", logs)
		}
	}

	writeRenamed(t, path, cfgFor("new-key"))
	if !waitLog(logs, `"msg":"config reloaded"`) {
		t.Fatalf("the config file's change was not reloaded\n%s", logs)
	}
	if a := send("GET", "/v1/quotas", "old-key", nil); a.code != 401 {
		t.Errorf("GET /v1/quotas with the removed key after the reload = %d, want 401", a.code)
	}
	select {
	case a := <-pollDone:
		t.Fatalf("the parked long poll answered at the reload: %d %s %v", a.code, a.body, a.err)
	default:
	}
	close(release)
	if a := <-garantDone; a.err != nil || a.code != 200 {
		t.Errorf("the Garant call in flight across the reload = %d %.200s %v, want 200", a.code, a.body, a.err)
	}
	select {
	case a := <-pollDone:
		if a.err != nil || a.code != 200 || !strings.Contains(a.body, `"succeeded"`) {
			t.Errorf("the long poll parked across the reload = %d %.300s %v, want 200 and the finished task", a.code, a.body, a.err)
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("the long poll parked across the reload did not answer\n%s", logs)
	}
	if a := send("GET", "/v1/fssp/tasks/"+task.ID, "new-key", nil); a.code != 200 || !strings.Contains(a.body, `"succeeded"`) {
		t.Errorf("GET the task with the new key = %d %.300s, want 200 and the finished task", a.code, a.body)
	}
}
