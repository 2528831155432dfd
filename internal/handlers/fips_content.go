package handlers

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FipsGetDocumentFile streams a document's content: the bytes to sign.
func (h fipsHandlers) FipsGetDocumentFile(ctx context.Context, request api.FipsGetDocumentFileRequestObject) (api.FipsGetDocumentFileResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetDocumentFile)
	if err != nil {
		return nil, err
	}
	content, err := c.Client.DocumentFile(ctx, c.cred, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	return fipsStream{content: content, defaultType: "application/octet-stream"}, nil
}

// FipsPutDocumentFile streams the "file" part to FIPS as the document's content.
func (h fipsHandlers) FipsPutDocumentFile(ctx context.Context, request api.FipsPutDocumentFileRequestObject) (api.FipsPutDocumentFileResponseObject, error) {
	c, err := h.start(ctx, fips.OpPutDocumentFile)
	if err != nil {
		return nil, err
	}
	up, err := fipsFilePart(request.Body)
	if err != nil {
		return nil, fipsUploadFailed(ctx, err)
	}
	d, err := c.Client.PutDocumentFile(ctx, c.cred, request.ApplicationID, request.DocumentID, up)
	if err != nil {
		return nil, fipsUploadFailed(ctx, err)
	}
	if d == nil {
		return api.FipsPutDocumentFile204Response{}, nil
	}
	return api.FipsPutDocumentFile200JSONResponse(fipsDocument(*d)), nil
}

// FipsClearDocumentFile removes a document's content.
func (h fipsHandlers) FipsClearDocumentFile(ctx context.Context, request api.FipsClearDocumentFileRequestObject) (api.FipsClearDocumentFileResponseObject, error) {
	c, err := h.start(ctx, fips.OpClearDocumentFile)
	if err != nil {
		return nil, err
	}
	if err := c.Client.ClearDocumentFile(ctx, c.cred, request.ApplicationID, request.DocumentID); err != nil {
		return nil, err
	}
	return api.FipsClearDocumentFile204Response{}, nil
}

// FipsGetStatement streams a statement's XML.
func (h fipsHandlers) FipsGetStatement(ctx context.Context, request api.FipsGetStatementRequestObject) (api.FipsGetStatementResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetStatement)
	if err != nil {
		return nil, err
	}
	content, err := c.Client.Statement(ctx, c.cred, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	return fipsStream{content: content, defaultType: "application/xml"}, nil
}

// FipsPutStatement streams a statement's XML to FIPS; its checks (ФЛК) come
// back as a 400 problem listing each failed check.
func (h fipsHandlers) FipsPutStatement(ctx context.Context, request api.FipsPutStatementRequestObject) (api.FipsPutStatementResponseObject, error) {
	c, err := h.start(ctx, fips.OpPutStatement)
	if err != nil {
		return nil, err
	}
	up, err := fipsFilePart(request.Body)
	if err != nil {
		return nil, fipsUploadFailed(ctx, err)
	}
	d, err := c.Client.PutStatement(ctx, c.cred, request.ApplicationID, request.DocumentID, up)
	if err != nil {
		return nil, fipsUploadFailed(ctx, err)
	}
	if d == nil { // FIPS answered without the document: fetch it
		if d, err = c.Client.Document(ctx, c.cred, request.ApplicationID, request.DocumentID); err != nil {
			return nil, err
		}
	}
	return api.FipsPutStatement200JSONResponse(fipsDocument(*d)), nil
}

// fipsStream passes FIPS content through: its type, length and file name, and
// its bytes as they arrive.
type fipsStream struct {
	content     *fips.Content
	defaultType string
}

func (x fipsStream) write(w http.ResponseWriter) error {
	defer x.content.Body.Close()
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
	if x.content.Disposition != "" {
		h.Set("Content-Disposition", x.content.Disposition)
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, x.content.Body); err != nil {
		// The status is sent: cut the connection so that the client sees a
		// broken download, never a complete-looking short one.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (x fipsStream) VisitFipsGetDocumentFileResponse(w http.ResponseWriter) error { return x.write(w) }
func (x fipsStream) VisitFipsGetStatementResponse(w http.ResponseWriter) error    { return x.write(w) }
func (x fipsStream) VisitFipsGetPackageResponse(w http.ResponseWriter) error      { return x.write(w) }

// fipsUploadFailed closes the connection after an upload that stopped
// before the end of the caller's body (over the limit, or FIPS answered
// early): the rest is not drained, and the connection is not reused.
func fipsUploadFailed(ctx context.Context, err error) error {
	ResponseHeader(ctx).Set("Connection", "close")
	return err
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
