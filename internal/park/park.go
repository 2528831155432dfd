// Package park holds HTTP/1.1 requests that wait (FSSP long polls) without
// a goroutine or the server's buffers while they wait: a parked request
// holds its connection and a small record, nothing else.
//
// The one entry point is Lot.Park, called by a handler that will answer
// later from another goroutine: it takes the connection over
// (http.Hijacker) and returns a Conn; the handler returns, and the
// server's goroutine and buffers are freed. Conn.Answer writes the answer
// directly on the connection and gives it back to the server through the
// Listener the server serves (NewListener), to read the client's next
// request as a keep-alive connection would.
//
// Limits: HTTP/1.x without a request body only. HTTP/2 streams cannot be
// taken over, and TLS is not terminated in process (a TLS connection taken
// over would have to be re-wrapped): such requests, and those past the
// Lot's capacity, are not parked and wait the usual way. A parked client
// that goes away is noticed only when its answer is written, hence the cap.
package park

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Resumer takes back connections a Lot took over (the Listener): Resume
// hands c to the server to serve its next request, false when the server
// no longer accepts; Accepting says whether it still does.
type Resumer interface {
	Resume(c net.Conn) bool
	Accepting() bool
}

// writeTimeout bounds writing an answer to a slow client.
const writeTimeout = 10 * time.Second

// inlineMax is the largest answer written on the goroutine that calls
// Answer; larger ones are written on their own goroutine.
const inlineMax = 64 << 10

// DefaultMax is how many requests may be parked at once when New is given 0.
const DefaultMax = 20000

// Lot parks the requests of one server.
type Lot struct {
	conns Resumer // nil: answered connections close
	max   int64
	n     atomic.Int64
}

// New returns a Lot giving connections back to conns (nil: they close once
// answered) and parking at most max requests at once (0: DefaultMax;
// negative: none).
func New(conns Resumer, max int) *Lot {
	if max == 0 {
		max = DefaultMax
	}
	return &Lot{conns: conns, max: int64(max)}
}

// Parked is how many requests are parked now.
func (l *Lot) Parked() int { return int(l.n.Load()) }

// answerFields are the header fields an answer writes itself.
var answerFields = map[string]bool{"Content-Length": true, "Content-Type": true, "Date": true, "Connection": true}

// Conn is a parked request: its connection waits for the answer.
type Conn struct {
	lot     *Lot
	conn    net.Conn
	pending []byte // bytes the client sent after the request (a pipelined request)
	head    []byte // the header fields set before parking (X-Request-ID, ...)
	keep    bool   // the client keeps the connection alive
	http10  bool   // an HTTP/1.0 client, told so when the connection is kept
	addr    string // the client's address, as the server wrote it
	done    func(status int, bytes int64)
}

// Park takes over the connection of r, answered through w, keeping the
// header fields already set on w. When it does, detach is called (the
// access log hands over the function that records the request once it is
// answered). ok is false when r is not taken over (HTTP/2, a request with a
// body, a full lot, a writer that cannot be hijacked): the caller then
// answers the usual way and w is untouched.
func (l *Lot) Park(w http.ResponseWriter, r *http.Request, detach func() (done func(status int, bytes int64))) (_ *Conn, ok bool) {
	if r.ProtoMajor != 1 || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
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
	p := &Conn{lot: l, head: head.Bytes(), keep: !r.Close, http10: r.ProtoMinor == 0, addr: r.RemoteAddr}
	// A connection parked before comes back wrapped: park the one under it
	// (writev works on it), with the bytes the wrapper still held.
	var held []byte
	p.conn, held = unwrap(conn)
	if n := brw.Reader.Buffered(); n > 0 || len(held) > 0 {
		b, _ := brw.Reader.Peek(n)
		p.pending = append(bytes.Clone(b), held...)
	}
	p.done = func(int, int64) {}
	if detach != nil {
		p.done = detach()
	}
	return p, true
}

// Answer writes one response; extra are header fields as name, value
// pairs. The connection is given back to the server, or closed, and the
// request recorded, by then (nil when that was done on a goroutine of its
// own, for a large answer): a caller answering many requests in a row
// writes them all first and does the rest after.
func (p *Conn) Answer(status int, contentType string, body []byte, extra ...string) (then func()) {
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
		_ = p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		bufs := net.Buffers{h, body}
		_, err := bufs.WriteTo(p.conn)
		return err
	}
	done := func(err error) {
		p.lot.n.Add(-1)
		p.done(status, int64(len(body)))
		if err == nil && keep {
			_ = p.conn.SetWriteDeadline(time.Time{})
			if p.lot.conns.Resume(resume(p.conn, p.pending, p.addr)) {
				return
			}
		}
		_ = p.conn.Close()
	}
	if len(body) > inlineMax {
		// More than a socket buffer takes: a client slow to read it must not
		// hold up the other waiters answered on the caller's goroutine.
		go func() { done(write()) }()
		return nil
	}
	err := write()
	return func() { done(err) }
}

// resumedConn is a connection given back to the server: c with the bytes
// already read from it put back in front, and the client's address kept as
// the string it was (net/http formats a new connection's RemoteAddr, which
// costs more than answering a parked request when thousands come back at
// once).
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
