package fips

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Content is a stream of bytes exactly as FIPS sent them: FIPS is asked for
// them unencoded, and if it encodes them anyway they stay encoded (pass
// ContentEncoding on with them). Closing Body ends the call; it must be closed.
type Content struct {
	Body            io.ReadCloser
	ContentType     string // as FIPS sent it; empty when it sent none
	ContentLength   int64  // -1 when FIPS did not say
	ContentEncoding string // as FIPS sent it, if any; Body is not decoded
	Disposition     string // Content-Disposition as FIPS sent it, if any
}

// DocumentFile streams a document's content: the bytes to sign.
func (c *Client) DocumentFile(ctx context.Context, cred *tenant.Credential, appID, docID string) (*Content, error) {
	return c.download(ctx, cred, call{op: OpGetDocumentFile, method: http.MethodGet, ids: ids{appID, docID}})
}

// Statement streams a structured document's XML.
func (c *Client) Statement(ctx context.Context, cred *tenant.Credential, appID, docID string) (*Content, error) {
	return c.download(ctx, cred, call{op: OpGetStatement, method: http.MethodGet, ids: ids{appID, docID}})
}

// Package streams the application package to sign for submission.
func (c *Client) Package(ctx context.Context, cred *tenant.Credential, appID string) (*Content, error) {
	return c.download(ctx, cred, call{op: OpGetPackage, method: http.MethodGet, ids: ids{app: appID}})
}

func (c *Client) download(ctx context.Context, cred *tenant.Credential, k call) (*Content, error) {
	k.identity = true
	res, err := c.send(ctx, cred, k)
	if err != nil {
		return nil, err
	}
	return &Content{
		Body: res.Body, ContentType: res.Header.Get("Content-Type"), ContentLength: res.ContentLength,
		ContentEncoding: res.Header.Get("Content-Encoding"), Disposition: res.Header.Get("Content-Disposition"),
	}, nil
}

// Upload is content to send as the "file" part of a multipart/form-data
// request. Body is copied as it is read, never buffered whole.
type Upload struct {
	Body        io.Reader
	FileName    string
	ContentType string // default application/octet-stream
	// Header holds further part headers to pass on as they are
	// (Content-Transfer-Encoding); Content-Disposition and Content-Type are set
	// from the fields above.
	Header textproto.MIMEHeader
	// Stop, if set, makes a Read of Body that may be blocked return (for a
	// server's request body: set its read deadline to now). The upload calls
	// it when the call ended before Body did, then waits for its copy of Body
	// to stop. Without Stop, a copy still blocked in Read is not waited for:
	// it ends when that Read does.
	Stop func()
}

// PutDocumentFile replaces an unstructured document's content. It returns the
// document when FIPS answers with it, nil when FIPS answers 204.
func (c *Client) PutDocumentFile(ctx context.Context, cred *tenant.Credential, appID, docID string, up Upload) (*Document, error) {
	return c.upload(ctx, cred, call{op: OpPutDocumentFile, method: http.MethodPut, ids: ids{appID, docID}}, up)
}

// PutStatement replaces a statement's XML; FIPS runs its checks (ФЛК) and
// answers 400 with one finding per failed check.
func (c *Client) PutStatement(ctx context.Context, cred *tenant.Credential, appID, docID string, up Upload) (*Document, error) {
	return c.upload(ctx, cred, call{op: OpPutStatement, method: http.MethodPut, ids: ids{appID, docID}}, up)
}

// errAnswered stops the part copy once FIPS answered.
var errAnswered = errors.New("fips: upstream answered before the upload ended")

// upload streams up through an io.Pipe: a goroutine writes the multipart
// framing and copies the part while the transport sends it (chunked). If the
// copy fails (the caller's body is over its limit or broke off), the request
// body ends with an error, so the transport never sends the final chunk and
// FIPS never sees a complete request: nothing partial is stored.
//
// When the call ends first (FIPS answered early, or timed out), the copy may
// be blocked reading a stalled caller: upload does not wait for it unless
// up.Stop can end that read.
func (c *Client) upload(ctx context.Context, cred *tenant.Credential, k call, up Upload) (*Document, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	copied := make(chan error, 1)
	go func() {
		err := writePart(mw, up)
		copied <- err              // before the pipe ends: whoever sees the end sees why
		_ = pw.CloseWithError(err) // nil: EOF after the closing boundary
	}()
	k.body, k.contentType, k.identity = pr, mw.FormDataContentType(), true
	res, err := c.send(ctx, cred, k)
	_ = pr.CloseWithError(errAnswered) // unblocks the copy if it is writing
	var copyErr error                  // set when the copy ended before the call: it may be why the call failed
	select {
	case copyErr = <-copied:
	default: // still reading the caller's body; the call's own answer stands
		if up.Stop != nil {
			up.Stop()
			<-copied
		}
	}

	var tooBig *http.MaxBytesError
	if errors.As(copyErr, &tooBig) {
		if res != nil {
			res.Body.Close()
		}
		return nil, apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", tooBig.Limit)
	}
	if err != nil {
		if copyErr != nil && !errors.Is(copyErr, errAnswered) && !errors.Is(copyErr, io.ErrClosedPipe) {
			return nil, apperr.Wrap(apperr.Invalid, "the uploaded content could not be read to its end", copyErr)
		}
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	var doc Document
	if err := json.NewDecoder(io.LimitReader(res.Body, maxJSONBody)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // 200 without a body
		}
		return nil, unreadable(k.op, err)
	}
	return &doc, nil
}

func writePart(mw *multipart.Writer, up Upload) error {
	h := textproto.MIMEHeader{}
	for k, v := range up.Header {
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	params := map[string]string{"name": "file"}
	if up.FileName != "" {
		params["filename"] = up.FileName
	}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", params))
	ct := up.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	part, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("fips: upload: %w", err)
	}
	if _, err := io.Copy(part, up.Body); err != nil {
		return err
	}
	return mw.Close()
}
