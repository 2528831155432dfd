package quota

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
)

// cutProxy forwards TCP to a Redis server. Armed, it passes the next
// EVALSHA on to Redis, lets Redis run it, and then closes the client's
// connection instead of passing the answer back: what a broken connection
// or a failover looks like to go-redis, which then sends the same command
// again on a new connection.
type cutProxy struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, to string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, to: to}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			_ = c.Close()
			continue
		}
		var cut atomic.Bool
		p.wg.Add(2)
		go func() { // client → Redis
			defer p.wg.Done()
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) && p.armed.CompareAndSwap(true, false) {
						cut.Store(true)
					}
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // Redis → client, unless this answer is to be lost
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && cut.Load() {
					p.cuts.Add(1)
					return
				}
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// counters returns the values of the quota counters of credential main.
func counters(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	keys, err := rdb.Keys(ctxT(t), "{cred:main}:q:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		if strings.Contains(k, ":q:attempt:") {
			continue
		}
		v, err := rdb.Get(ctxT(t), k).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// TestRetriedScriptsCountOnce: go-redis sends a command again when the
// connection breaks before its answer (it retries by default), but Redis may
// already have run it. A reservation or refund run twice must change the
// counters once.
func TestRetriedScriptsCountOnce(t *testing.T) {
	srv := redistest.Start(t)
	direct := srv.Client(t)
	proxy := newCutProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.ln.Addr().String(), Protocol: 2}) // go-redis's default retries
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	for _, src := range []string{reserveLua, refundLua} {
		if err := direct.ScriptLoad(ctxT(t), src).Err(); err != nil { // so that the cut EVALSHA is one Redis runs
			t.Fatal(err)
		}
	}

	mustReserve(t, e, alphaExport, 1)
	proxy.armed.Store(true)
	second, err := e.Reserve(ctxT(t), alphaExport)
	if err != nil {
		t.Fatalf("Reserve() with its first answer lost = %v, want the retry to succeed", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d answers, want 1: the test did not lose the reserve's answer", proxy.cuts.Load())
	}
	for k, v := range counters(t, direct) {
		if v != "2" {
			t.Errorf("after 2 reservations, one retried: %s = %s, want 2", k, v)
		}
	}

	proxy.armed.Store(true)
	if err := second.Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() with its first answer lost = %v, want the retry to succeed", err)
	}
	if proxy.cuts.Load() != 2 {
		t.Fatalf("the proxy cut %d answers, want 2: the test did not lose the refund's answer", proxy.cuts.Load())
	}
	for k, v := range counters(t, direct) {
		if v != "1" {
			t.Errorf("after 2 reservations and 1 refund, retried: %s = %s, want 1", k, v)
		}
	}
}
