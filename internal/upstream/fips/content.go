package fips

import (
	"bytes"
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
	return c.download(ctx, cred, call{op: OpGetDocumentFile, ids: ids{appID, docID}})
}

// Statement streams a structured document's XML.
func (c *Client) Statement(ctx context.Context, cred *tenant.Credential, appID, docID string) (*Content, error) {
	return c.download(ctx, cred, call{op: OpGetStatement, ids: ids{appID, docID}})
}

// Package streams the application package to sign for submission.
func (c *Client) Package(ctx context.Context, cred *tenant.Credential, appID string) (*Content, error) {
	return c.download(ctx, cred, call{op: OpGetPackage, ids: ids{app: appID}})
}

func (c *Client) download(ctx context.Context, cred *tenant.Credential, k call) (*Content, error) {
	k.identity = true
	res, err := c.send(ctx, cred, k)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusMultiStatus {
		defer res.Body.Close()
		return nil, c.downloadMultiStatus(cred, k.op, res.Body)
	}
	return &Content{
		Body: res.Body, ContentType: res.Header.Get("Content-Type"), ContentLength: res.ContentLength,
		ContentEncoding: res.Header.Get("Content-Encoding"), Disposition: res.Header.Get("Content-Disposition"),
	}, nil
}

// Upload is content to send: by default as the part named by the route
// (default "file") of a multipart/form-data request, or, when the route's
// content type is another one, as the whole body. Body is copied as it is
// read, never buffered whole.
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
	return c.upload(ctx, cred, call{op: OpPutDocumentFile, ids: ids{appID, docID}}, up)
}

// PutStatement replaces a statement's XML; FIPS runs its checks (ФЛК) and
// answers 400 with one finding per failed check.
func (c *Client) PutStatement(ctx context.Context, cred *tenant.Credential, appID, docID string, up Upload) (*Document, error) {
	return c.upload(ctx, cred, call{op: OpPutStatement, ids: ids{appID, docID}}, up)
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
	route := c.routes[k.op]
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	if isMultipart(route.ContentType) {
		mw := multipart.NewWriter(pw)
		go func() {
			err := writePart(mw, route.Part, up)
			copied <- err              // before the pipe ends: whoever sees the end sees why
			_ = pw.CloseWithError(err) // nil: EOF after the closing boundary
		}()
		k.contentType = mw.FormDataContentType()
	} else {
		go func() {
			_, err := io.Copy(pw, up.Body)
			copied <- err
			_ = pw.CloseWithError(err)
		}()
		k.contentType = route.ContentType
	}
	k.body, k.identity = pr, true
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
	body := io.LimitReader(res.Body, maxJSONBody)
	status := res.StatusCode
	if status == http.StatusMultiStatus {
		s, raw, err := c.multiOutcome(cred, k.op, res.Body, false)
		if err != nil {
			return nil, err
		}
		status, body = s, bytes.NewReader(raw)
	}
	if status == http.StatusNoContent {
		return nil, nil
	}
	var doc Document
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // 200 without a body
		}
		return nil, unreadable(k.op, err)
	}
	c.countUnread(k.op, &doc)
	return &doc, nil
}

func writePart(mw *multipart.Writer, name string, up Upload) error {
	h := textproto.MIMEHeader{}
	for k, v := range up.Header {
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	params := map[string]string{"name": name}
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
