// Command bodybudget measures what large request bodies cost the real
// gateway binary: its peak resident memory (VmHWM in /proc/PID/status) and
// how long it takes to answer, for the padded hyperlinks body of issue 12
// (a valid text and a 9-million-item array nobody declared), the same
// without text, one legitimate large text, and several of them at once from
// one tenant (the in-flight body budget refuses the excess). Every scenario
// runs on a fresh gateway; redis-server and the upstream are shared. It
// prints a Markdown table and stops every process it started.
//
//	go run ./bench/bodybudget                  # Garant is a stub that answers a few bytes
//	go run ./bench/bodybudget -upstream sim    # Garant is the simulator (its answer is the text with links)
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/legalgate/legalgate/bench/benchproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bodybudget:", err)
		os.Exit(1)
	}
}

type options struct {
	gateway, sim, redis, upstream string
	textMB, parallel              int
	keep, newlines                bool
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	var o options
	fs := flag.NewFlagSet("bodybudget", flag.ContinueOnError)
	fs.StringVar(&o.gateway, "gateway", "", "gateway binary (default: go build ./cmd/gateway)")
	fs.StringVar(&o.sim, "upstream-sim", "", "upstream-sim binary for -upstream sim (default: go build ./cmd/upstream-sim)")
	fs.StringVar(&o.redis, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.upstream, "upstream", "stub", "Garant: stub (reads the text, answers a few bytes: what the request costs) or sim (the simulator: its answer is the text with links)")
	fs.IntVar(&o.textMB, "text-mb", 18, "size of the large bodies, in MB (at most 20)")
	fs.IntVar(&o.parallel, "parallel", 8, "large texts sent at once by one tenant")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, configs, logs)")
	fs.BoolVar(&o.newlines, "newlines", false, "end each sentence of the texts with a newline (sent as the escape \\n, which the gateway decodes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.textMB < 1 || o.textMB > 20 || (o.upstream != "stub" && o.upstream != "sim") {
		return errors.New("-text-mb must be 1 to 20 and -upstream stub or sim")
	}
	dir, err := os.MkdirTemp("", "bodybudget-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintln(os.Stderr, "work directory kept:", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	p := &benchproc.Procs{Dir: dir}
	defer p.StopAll()

	if o.gateway == "" {
		o.gateway = filepath.Join(dir, "gateway")
		if err := benchproc.GoBuild(ctx, o.gateway, "./cmd/gateway"); err != nil {
			return err
		}
	}
	redisPort, err := benchproc.FreePort()
	if err != nil {
		return err
	}
	rp, err := p.Start("redis", o.redis, "--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err != nil {
		return err
	}
	if err := p.WaitFor(ctx, rp, func() bool { return benchproc.Dials(fmt.Sprintf("127.0.0.1:%d", redisPort)) }); err != nil {
		return err
	}
	garantURL, err := startGarant(ctx, p, o)
	if err != nil {
		return err
	}

	padded, paddedNoText := paddedBodies()
	texts := make([][]byte, o.parallel+1)
	for i := range texts {
		texts[i] = textBody(o.textMB*1_000_000, i, o.newlines)
	}
	scenarios := []struct {
		name   string
		bodies [][]byte
	}{
		{"padded: a valid text and a 9,000,000-item `pad`", [][]byte{padded}},
		{"padded, without `text`", [][]byte{paddedNoText}},
		{fmt.Sprintf("a legitimate %d MB text", o.textMB), texts[:1]},
		{fmt.Sprintf("%d legitimate %d MB texts at once, one tenant", o.parallel, o.textMB), texts[1:]},
	}
	fmt.Fprintf(stdout, "Garant: %s. Default limits (server.body_budget_mib 64, tenant_body_budget_mib 32).\n\n", map[string]string{
		"stub": "a stub that reads the request and answers a few bytes (the request's own cost)",
		"sim":  "the simulator (its answer, the text with links, is about 1.6 times the request)"}[o.upstream])
	fmt.Fprintln(stdout, "| scenario | body | answers | slowest answer | VmHWM idle → peak | peak growth | growth / body |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|")
	for i, sc := range scenarios {
		row, err := measure(ctx, p, o, dir, i, redisPort, garantURL, sc.bodies)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Fprintf(stdout, "| %s | %s |%s|\n", sc.name, mb(int64(len(sc.bodies[0]))), row)
	}
	return nil
}

// measure runs bodies at once against a fresh gateway and returns the rest
// of the table row.
func measure(ctx context.Context, p *benchproc.Procs, o options, dir string, n, redisPort int, garantURL string, bodies [][]byte) (string, error) {
	port, err := benchproc.FreePort()
	if err != nil {
		return "", err
	}
	key := "bench-key"
	cfg := fmt.Sprintf(`addr: 127.0.0.1:%d
redis: {url: "redis://127.0.0.1:%d/%d"}
credentials:
  garant-bench:
    upstream: garant
    secret: demo-garant-token
    limits: [{family: links_control, period: month, limit: 1000000}]
tenants:
  bench: {keys_sha256: [%s], credentials: {garant: garant-bench}}
upstreams:
  garant: {base_url: %q}
`, port, redisPort, n, benchproc.SHA256Hex(key), garantURL)
	path := filepath.Join(dir, fmt.Sprintf("gateway-%d.yaml", n))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	gw, err := p.Start(fmt.Sprintf("gateway-%d", n), o.gateway, "-config", path)
	if err != nil {
		return "", err
	}
	defer p.Stop(gw)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Minute}
	if err := p.WaitFor(ctx, gw, func() bool {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	}); err != nil {
		return "", err
	}
	// Warm up with a small valid body, then let the process settle.
	if _, _, err := post(client, base, key, textBody(1000, 99, false)); err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	idle, err := hwm(gw)
	if err != nil {
		return "", err
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		slowest  time.Duration
		errs     []error
	)
	for _, b := range bodies {
		wg.Go(func() {
			status, d, err := post(client, base, key, b)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			statuses[status]++
			slowest = max(slowest, d)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	peak, err := hwm(gw)
	if err != nil {
		return "", err
	}
	var answers []string
	for _, s := range []int{200, 400, 408, 413, 429, 503} {
		if statuses[s] > 0 {
			answers = append(answers, fmt.Sprintf("%d × %d", statuses[s], s))
			delete(statuses, s)
		}
	}
	for s, c := range statuses {
		answers = append(answers, fmt.Sprintf("%d × %d", c, s))
	}
	growth := peak - idle
	return fmt.Sprintf(" %s | %.2f s | %s → %s | %s | %.2f× ", strings.Join(answers, ", "), slowest.Seconds(),
		mb(idle), mb(peak), mb(growth), float64(growth)/float64(len(bodies[0]))), nil
}

func post(client *http.Client, base, key string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequest("POST", base+"/v1/garant/hyperlinks", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cache-Control", "no-cache, no-store")
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, time.Since(start), err
}

// paddedBodies are the 18 MB bodies: with a valid text and without.
func paddedBodies() (withText, withoutText []byte) {
	pad := bytes.Repeat([]byte("0,"), 9_000_000)
	pad = append(pad[:len(pad)-1], "]}"...)
	withText = append([]byte(`{"text":"Статья 70 ТК РФ","baseUrl":"https://internet.garant.ru","pad":[`), pad...)
	withoutText = append([]byte(`{"baseUrl":"https://internet.garant.ru","pad":[`), pad...)
	return withText, withoutText
}

// textBody is a hyperlinks body of about n bytes of Russian legal text,
// made distinct by i (so that no two share a cache entry or a fill), its
// sentences ending with a newline (JSON's escape \n) when newlines is set.
func textBody(n, i int, newlines bool) []byte {
	sentence := "В соответствии со статьей 70 Трудового кодекса РФ испытание не устанавливается. "
	if newlines {
		sentence = sentence[:len(sentence)-1] + `\n`
	}
	b := make([]byte, 0, n+96)
	b = append(b, `{"baseUrl":"https://internet.garant.ru","text":"`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ' ')
	for len(b)+len(sentence) < n {
		b = append(b, sentence...)
	}
	return append(b, `"}`...)
}

// startGarant starts the Garant upstream of -upstream and returns its base URL.
func startGarant(ctx context.Context, p *benchproc.Procs, o options) (string, error) {
	port, err := benchproc.FreePort()
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if o.upstream == "stub" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/v2/limits" {
				_, _ = io.WriteString(w, "[]")
				return
			}
			fmt.Fprintf(w, `{"text":"%d bytes read"}`, n)
		})}
		go func() { _ = srv.Serve(ln) }()
		p.OnStop = append(p.OnStop, func() { _ = srv.Close() })
		return "http://" + addr, nil
	}
	if o.sim == "" {
		o.sim = filepath.Join(p.Dir, "upstream-sim")
		if err := benchproc.GoBuild(ctx, o.sim, "./cmd/upstream-sim"); err != nil {
			return "", err
		}
	}
	others := [2]int{}
	for i := range others {
		if others[i], err = benchproc.FreePort(); err != nil {
			return "", err
		}
	}
	sim, err := p.Start("upstream-sim", o.sim, "-addr-garant", addr,
		"-addr-fssp", fmt.Sprintf("127.0.0.1:%d", others[0]), "-addr-fips", fmt.Sprintf("127.0.0.1:%d", others[1]))
	if err != nil {
		return "", err
	}
	return "http://" + addr, p.WaitFor(ctx, sim, func() bool { return benchproc.Dials(addr) })
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// hwm is the peak resident set of c, in bytes.
func hwm(c *benchproc.Proc) (int64, error) {
	m, err := benchproc.ReadMemory(c.Pid())
	return m.HWM, err
}
