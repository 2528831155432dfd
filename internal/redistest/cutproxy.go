package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// CutProxy forwards TCP to a Redis server. Armed, it passes the next command
// whose bytes contain a word (say "evalsha") on to Redis, lets Redis run it,
// and then closes the client's connection instead of passing the answer
// back: what a broken connection or a failover looks like to go-redis, which
// then sends the same command again on a new connection (it retries by
// default). Scripts must behave the same when run twice.
type CutProxy struct {
	ln    net.Listener
	to    string
	armed atomic.Pointer[[]byte]
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

// NewCutProxy listens on a free loopback port and forwards to addr until the
// test ends.
func NewCutProxy(tb testing.TB, addr string) *CutProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &CutProxy{ln: ln, to: addr}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

// Addr is the proxy's address, for a client's Options.Addr.
func (p *CutProxy) Addr() string { return p.ln.Addr().String() }

// Arm makes the proxy lose the answer to the next command containing word
// (compared in lower case).
func (p *CutProxy) Arm(word string) {
	w := bytes.ToLower([]byte(word))
	p.armed.Store(&w)
}

// Cuts is the number of answers lost so far.
func (p *CutProxy) Cuts() int { return int(p.cuts.Load()) }

func (p *CutProxy) accept() {
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
					if w := p.armed.Load(); w != nil && bytes.Contains(bytes.ToLower(buf[:n]), *w) && p.armed.CompareAndSwap(w, nil) {
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
