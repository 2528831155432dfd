package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
)

// A long poll held the usual way costs its connection's goroutines and
// buffers (about 25 KB in net/http) for as long as it waits. A parked long
// poll costs a few hundred bytes instead: the handler takes the HTTP/1.x
// connection over (http.Hijacker), returns, and the server's goroutine and
// buffers are freed; when the answer is ready it is written to the
// connection directly, which is then given back to the server (Deps.Resume)
// to read the client's next request, as a keep-alive connection would.
// HTTP/2 streams cannot be taken over: they wait the usual way.

// parkWriteTimeout bounds writing a parked answer to a slow client.
const parkWriteTimeout = 10 * time.Second

// parked is a request whose connection waits for its answer.
type parked struct {
	conn    net.Conn
	pending []byte // bytes the client sent after the request (a pipelined request)
	head    []byte // the header fields set before parking (X-Request-ID, ...)
	keep    bool   // the client keeps the connection alive
	id      string // request id
	resume  func(net.Conn) bool
	finish  func(status int, bytes int64) // the access log line and metrics
}

// park takes over the connection of the request in ctx, answered through w.
// ok is false when it cannot be taken over (HTTP/2, a test recorder): the
// caller then waits the usual way and w is untouched.
func park(ctx context.Context, w http.ResponseWriter, resume func(net.Conn) bool) (_ *parked, ok bool) {
	x := exchangeFrom(ctx)
	if x.r == nil || x.r.ProtoMajor != 1 {
		return nil, false
	}
	var head bytes.Buffer
	_ = w.Header().WriteSubset(&head, map[string]bool{"Content-Length": true, "Content-Type": true, "Date": true, "Connection": true})
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	p := &parked{conn: conn, head: head.Bytes(), keep: !x.r.Close, resume: resume}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		p.pending = bytes.Clone(b)
	}
	info := infoFrom(ctx)
	p.id = info.id
	p.finish = func(int, int64) {}
	if info.detach != nil {
		p.finish = info.detach()
	}
	return p, true
}

// answer writes one response; then gives the connection back to the
// server, or closes it, and records the request. extra are header fields as
// name, value pairs.
func (p *parked) answer(status int, contentType string, body []byte, extra ...string) (then func()) {
	keep := p.keep && p.resume != nil
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
	if !keep {
		h = append(h, "Connection: close\r\n"...)
	}
	h = append(h, "\r\n"...)
	_ = p.conn.SetWriteDeadline(time.Now().Add(parkWriteTimeout))
	bufs := net.Buffers{h, body}
	_, err := bufs.WriteTo(p.conn)
	// The rest can wait: a finished task answers all its waiters in a row,
	// and their writes come before any of their bookkeeping.
	return func() {
		p.finish(status, int64(len(body)))
		if err == nil && keep {
			_ = p.conn.SetWriteDeadline(time.Time{})
			if p.resume(resumedConn(p.conn, p.pending)) {
				return
			}
		}
		_ = p.conn.Close()
	}
}

// answerError writes err as a problem document.
func (p *parked) answerError(err error) (then func()) {
	prob, _ := problemOf(err, p.id)
	b, mErr := json.Marshal(prob)
	if mErr != nil {
		b = []byte(`{"title":"Internal Server Error","status":500}`)
		prob.Status = http.StatusInternalServerError
	}
	return p.answer(prob.Status, "application/problem+json", b)
}

// resumedConn is c with the bytes already read from it put back in front.
func resumedConn(c net.Conn, pending []byte) net.Conn {
	if len(pending) == 0 {
		return c
	}
	return &prefixConn{Conn: c, prefix: pending}
}

type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
