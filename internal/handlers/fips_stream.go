package handlers

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// streamIdle is Limits.StreamIdle: how long a streamed body may stall.
func (c fipsCall) streamIdle() time.Duration { return c.idle }

// stream answers content as it arrives from FIPS, in a "fips.download"
// span when the request is traced.
func (c fipsCall) stream(ctx context.Context, content *fips.Content, defaultType string) fipsStream {
	_, span := telemetry.Start(ctx, "fips.download")
	return fipsStream{content: content, defaultType: defaultType, idle: c.streamIdle(), span: span}
}

// fipsStream passes FIPS content through: its type, length, encoding and
// file name, and its bytes as they arrive, never decoded. A client that
// accepts no byte for idle is cut off.
type fipsStream struct {
	content     *fips.Content
	defaultType string
	idle        time.Duration
	span        trace.Span // ended once written; records only when traced
}

func (x fipsStream) write(w http.ResponseWriter) error {
	defer x.content.Body.Close()
	var sent int64
	defer func() { endStreamSpan(x.span, sent, recover()) }()
	h := w.Header()
	ct := x.content.ContentType
	if ct == "" {
		ct = x.defaultType
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	if x.content.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(x.content.ContentLength, 10))
	}
	if x.content.ContentEncoding != "" { // the bytes stay encoded: pass the encoding with them
		h.Set("Content-Encoding", x.content.ContentEncoding)
	}
	if x.content.Disposition != "" {
		h.Set("Content-Disposition", x.content.Disposition)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }() // the connection may serve another request
	buf := make([]byte, 32<<10)
	for {
		n, err := x.content.Body.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(x.idle))
			m, werr := w.Write(buf[:n])
			sent += int64(m)
			if werr != nil {
				err = werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// The status is sent: cut the connection so that the client sees a
			// broken download, never a complete-looking short one.
			panic(http.ErrAbortHandler)
		}
	}
}

func (x fipsStream) VisitFipsGetDocumentFileResponse(w http.ResponseWriter) error { return x.write(w) }
func (x fipsStream) VisitFipsGetStatementResponse(w http.ResponseWriter) error    { return x.write(w) }
func (x fipsStream) VisitFipsGetPackageResponse(w http.ResponseWriter) error      { return x.write(w) }

// upload finds the "file" part of mr and hands it to put, reading the
// caller's body with an idle deadline that each read extends. When the
// upload stops before the end of the caller's body (over the limit, FIPS
// answered early or failed, the caller stalled), any read still under way is
// ended at once and the connection is closed after the answer: the rest is
// not drained, and the connection is not reused.
func (c fipsCall) upload(ctx context.Context, mr *multipart.Reader, put func(fips.Upload) (*fips.Document, error)) (*fips.Document, error) {
	if w := exchangeFrom(ctx).w; w != nil {
		// FIPS may answer before the body is all read: let the reader and
		// writer overlap. Only here, where the body streams and an early
		// stop closes the connection: with full duplex on, a body left
		// unread on a connection that is reused makes net/http panic.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	body := newIdleBody(exchangeFrom(ctx).w, c.streamIdle())
	body.extend()
	_, span := telemetry.Start(ctx, "fips.upload")
	up, err := fipsFilePart(mr)
	if err == nil {
		up.Body, up.Stop = body.reader(up.Body), body.stop
		var d *fips.Document
		d, err = put(up)
		if span.IsRecording() {
			span.SetAttributes(attribute.Int64("legalgate.fips.bytes", body.read.Load()))
		}
		if err == nil {
			span.End()
			return d, nil
		}
	}
	telemetry.Fail(span, err)
	span.End()
	body.stop()
	ResponseHeader(ctx).Set("Connection", "close")
	return nil, err
}

// idleBody sets the read deadline of the caller's body: extended before each
// read, or now once stopped (which ends a read in progress).
type idleBody struct {
	rc   *http.ResponseController // nil without a response writer
	idle time.Duration

	mu      sync.Mutex
	stopped bool
	read    atomic.Int64 // bytes of the part read so far
}

func newIdleBody(w http.ResponseWriter, idle time.Duration) *idleBody {
	b := &idleBody{idle: idle}
	if w != nil {
		b.rc = http.NewResponseController(w)
	}
	return b
}

// extend moves the deadline idle into the future; false once stopped.
func (b *idleBody) extend() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	if b.rc != nil {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	return true
}

func (b *idleBody) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.rc != nil {
		_ = b.rc.SetReadDeadline(time.Now())
	}
}

func (b *idleBody) reader(r io.Reader) io.Reader { return idleReader{b: b, r: r} }

type idleReader struct {
	b *idleBody
	r io.Reader
}

var errUploadStopped = errors.New("handlers: upload stopped")

func (x idleReader) Read(p []byte) (int, error) {
	if !x.b.extend() {
		return 0, errUploadStopped
	}
	n, err := x.r.Read(p)
	x.b.read.Add(int64(n))
	return n, err
}

// endStreamSpan ends a download's span with the bytes sent; a download cut
// off (a panic with http.ErrAbortHandler) fails it and goes on panicking.
func endStreamSpan(span trace.Span, sent int64, panicked any) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Int64("legalgate.fips.bytes", sent))
		if panicked != nil {
			span.SetStatus(codes.Error, "download cut off")
		}
	}
	span.End()
	if panicked != nil {
		panic(panicked)
	}
}

// fipsFilePart finds the part named "file" and returns it to stream on. Raw
// parts: a quoted-printable part is passed on encoded, as sent.
func fipsFilePart(mr *multipart.Reader) (fips.Upload, error) {
	for {
		p, err := mr.NextRawPart()
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fips.Upload{}, err // 413
		case errors.Is(err, io.EOF):
			return fips.Upload{}, apperr.InvalidField("body.file", "a multipart part named file is required")
		case err != nil:
			return fips.Upload{}, apperr.Wrap(apperr.Invalid, "the multipart/form-data body could not be read", err)
		}
		if p.FormName() != "file" {
			continue
		}
		up := fips.Upload{Body: p, FileName: p.FileName(), ContentType: p.Header.Get("Content-Type")}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "" {
			up.Header = textproto.MIMEHeader{"Content-Transfer-Encoding": {cte}}
		}
		return up, nil
	}
}
