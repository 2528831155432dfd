package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// A long poll held the usual way costs its connection's goroutines and
// buffers (about 25 KB in net/http) for as long as it waits. A parked long
// poll costs a few hundred bytes instead: the handler takes the HTTP/1.x
// connection over (http.Hijacker), returns, and the server's goroutine and
// buffers are freed; when the answer is ready it is written to the
// connection directly, which is then given back to the server (Deps.Conns)
// to read the client's next request, as a keep-alive connection would.
// HTTP/2 streams cannot be taken over: they wait the usual way, as do polls
// beyond the lot's capacity (a parked connection whose client went away is
// noticed only when its answer is written, so parking is capped).

// ConnResumer takes back connections a handler took over (cmd/gateway's
// listener): Resume hands c to the server to serve its next request, false
// when the server no longer accepts; Accepting says whether it still does.
type ConnResumer interface {
	Resume(c net.Conn) bool
	Accepting() bool
}

// parkWriteTimeout bounds writing a parked answer to a slow client.
const parkWriteTimeout = 10 * time.Second

// parkInlineMax is the largest answer written on the goroutine that wakes
// a batch of parked polls; larger ones are written on their own.
const parkInlineMax = 64 << 10

// DefaultMaxParked is how many long polls may be parked at once when
// Deps.MaxParked is 0.
const DefaultMaxParked = 20000

// parkLot parks requests of one server.
type parkLot struct {
	conns ConnResumer // nil: answered connections close
	max   int64
	n     atomic.Int64
	log   *slog.Logger
}

func newParkLot(d *Deps) *parkLot {
	max := int64(d.MaxParked)
	if max == 0 {
		max = DefaultMaxParked
	}
	return &parkLot{conns: d.Conns, max: max, log: d.Log}
}

// answerFields are the header fields a parked answer writes itself.
var answerFields = map[string]bool{"Content-Length": true, "Content-Type": true, "Date": true, "Connection": true}

// parked is a request whose connection waits for its answer.
type parked struct {
	lot     *parkLot
	conn    net.Conn
	pending []byte // bytes the client sent after the request (a pipelined request)
	head    []byte // the header fields set before parking (X-Request-ID, ...)
	keep    bool   // the client keeps the connection alive
	http10  bool   // an HTTP/1.0 client, told so when the connection is kept
	addr    string // the client's address, as the server wrote it
	info    *reqInfo
	finish  func(status int, bytes int64) // the access log line and metrics
}

// park takes over the connection of the request in ctx, answered through w.
// ok is false when it is not taken over (HTTP/2, a request with a body, a
// full lot, a test recorder): the caller then waits the usual way and w is
// untouched.
func (l *parkLot) park(ctx context.Context, w http.ResponseWriter) (_ *parked, ok bool) {
	x := exchangeFrom(ctx)
	if x.r == nil || x.r.ProtoMajor != 1 || x.r.ContentLength != 0 || len(x.r.TransferEncoding) > 0 {
		return nil, false
	}
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
		return nil, false
	}
	var head bytes.Buffer
	_ = w.Header().WriteSubset(&head, answerFields)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		l.n.Add(-1)
		return nil, false
	}
	p := &parked{lot: l, head: head.Bytes(), keep: !x.r.Close, http10: x.r.ProtoMinor == 0, addr: x.r.RemoteAddr}
	// A connection parked before comes back wrapped: park the one under it
	// (writev works on it), with the bytes the wrapper still held.
	var held []byte
	p.conn, held = unwrap(conn)
	if n := brw.Reader.Buffered(); n > 0 || len(held) > 0 {
		b, _ := brw.Reader.Peek(n)
		p.pending = append(bytes.Clone(b), held...)
	}
	p.info = infoFrom(ctx)
	p.finish = func(int, int64) {}
	if f := p.info.detach(); f != nil {
		p.finish = f
	}
	return p, true
}

// answer writes one response; the connection is then given back to the
// server, or closed, and the request recorded, by then. extra are header
// fields as name, value pairs.
func (p *parked) answer(status int, contentType string, body []byte, extra ...string) (then func()) {
	keep := p.keep && p.lot.conns != nil && p.lot.conns.Accepting()
	h := make([]byte, 0, 256+len(p.head))
	h = append(h, "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(status), 10)
	h = append(h, ' ')
	h = append(h, http.StatusText(status)...)
	h = append(h, "\r\n"...)
	h = append(h, p.head...)
	h = append(h, "Content-Type: "...)
	h = append(h, contentType...)
	h = append(h, "\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\nDate: "...)
	h = time.Now().UTC().AppendFormat(h, http.TimeFormat)
	h = append(h, "\r\n"...)
	for i := 0; i+1 < len(extra); i += 2 {
		h = append(h, extra[i]...)
		h = append(h, ": "...)
		h = append(h, extra[i+1]...)
		h = append(h, "\r\n"...)
	}
	switch {
	case !keep:
		h = append(h, "Connection: close\r\n"...)
	case p.http10:
		h = append(h, "Connection: keep-alive\r\n"...)
	}
	h = append(h, "\r\n"...)
	write := func() error {
		_ = p.conn.SetWriteDeadline(time.Now().Add(parkWriteTimeout))
		bufs := net.Buffers{h, body}
		_, err := bufs.WriteTo(p.conn)
		return err
	}
	done := func(err error) {
		p.lot.n.Add(-1)
		p.finish(status, int64(len(body)))
		if err == nil && keep {
			_ = p.conn.SetWriteDeadline(time.Time{})
			if p.lot.conns.Resume(resume(p.conn, p.pending, p.addr)) {
				return
			}
		}
		_ = p.conn.Close()
	}
	if len(body) > parkInlineMax {
		// More than a socket buffer takes: a client slow to read it must not
		// hold up the other waiters answered on this goroutine.
		go func() { done(write()) }()
		return nil
	}
	err := write()
	// The rest can wait: a finished task answers all its waiters in a row,
	// and their writes come before any of their bookkeeping.
	return func() { done(err) }
}

// answerError writes err as a problem document, logged as writeError does.
func (p *parked) answerError(err error) (then func()) {
	prob, e := problemOf(err, p.info.id)
	p.info.errKind = e.Kind.String()
	if prob.Status >= 500 || e.Err != nil {
		p.lot.log.LogAttrs(context.Background(), slog.LevelWarn, "request failed",
			slog.String("request_id", p.info.id), slog.String("tenant", p.info.tenant),
			slog.String("operation", p.info.operation), slog.Int("status", prob.Status),
			slog.String("error", err.Error()))
	}
	b, mErr := json.Marshal(prob)
	if mErr != nil {
		b = []byte(`{"title":"Internal Server Error","status":500}`)
		prob.Status = http.StatusInternalServerError
	}
	var extra []string
	if e.RetryAfter > 0 {
		extra = []string{"Retry-After", strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))}
	}
	return p.answer(prob.Status, "application/problem+json", b, extra...)
}

// guard runs answer for p and turns a panic in it into a 500, as the
// recover middleware does for requests it still holds: parked answers run
// on the task engine's goroutines, which no middleware covers.
func (p *parked) guard(answer func() func()) (then func()) {
	defer func() {
		if v := recover(); v != nil {
			p.lot.log.Error("panic", "request_id", p.info.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			then = p.answerError(apperr.Wrap(apperr.Internal, "", fmt.Errorf("panic: %v", v)))
		}
	}()
	return answer()
}

// resumedConn is a connection given back to the server: c with the bytes
// already read from it put back in front, and the client's address kept as
// the string it was (net/http formats a new connection's RemoteAddr, which
// costs more than answering a parked poll when thousands come back at once).
type resumedConn struct {
	net.Conn
	prefix []byte
	addr   remoteAddr
}

func resume(c net.Conn, pending []byte, addr string) net.Conn {
	return &resumedConn{Conn: c, prefix: pending, addr: remoteAddr{c.RemoteAddr().Network(), addr}}
}

// unwrap returns the connection under c, and the bytes c still holds.
func unwrap(c net.Conn) (net.Conn, []byte) {
	if rc, ok := c.(*resumedConn); ok {
		return rc.Conn, rc.prefix
	}
	return c, nil
}

func (c *resumedConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *resumedConn) RemoteAddr() net.Addr { return c.addr }

type remoteAddr struct{ network, s string }

func (a remoteAddr) Network() string { return a.network }
func (a remoteAddr) String() string  { return a.s }
