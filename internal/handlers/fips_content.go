package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FipsGetDocumentFile streams a document's content: the bytes to sign.
func (h fipsHandlers) FipsGetDocumentFile(ctx context.Context, request api.FipsGetDocumentFileRequestObject) (api.FipsGetDocumentFileResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetDocumentFile)
	if err != nil {
		return nil, err
	}
	content, err := c.Client.DocumentFile(ctx, c.Credential, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, content, "application/octet-stream"), nil
}

// FipsPutDocumentFile streams the "file" part to FIPS as the document's content.
func (h fipsHandlers) FipsPutDocumentFile(ctx context.Context, request api.FipsPutDocumentFileRequestObject) (api.FipsPutDocumentFileResponseObject, error) {
	c, err := h.start(ctx, fips.OpPutDocumentFile)
	if err != nil {
		return nil, err
	}
	d, err := c.upload(ctx, request.Body, func(up fips.Upload) (*fips.Document, error) {
		return c.Client.PutDocumentFile(ctx, c.Credential, request.ApplicationID, request.DocumentID, up)
	})
	if err != nil {
		return nil, err
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
	if err := c.Client.ClearDocumentFile(ctx, c.Credential, request.ApplicationID, request.DocumentID); err != nil {
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
	content, err := c.Client.Statement(ctx, c.Credential, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, content, "application/xml"), nil
}

// FipsPutStatement streams a statement's XML to FIPS; its checks (ФЛК) come
// back as a 400 problem listing each failed check.
func (h fipsHandlers) FipsPutStatement(ctx context.Context, request api.FipsPutStatementRequestObject) (api.FipsPutStatementResponseObject, error) {
	c, err := h.start(ctx, fips.OpPutStatement)
	if err != nil {
		return nil, err
	}
	d, err := c.upload(ctx, request.Body, func(up fips.Upload) (*fips.Document, error) {
		return c.Client.PutStatement(ctx, c.Credential, request.ApplicationID, request.DocumentID, up)
	})
	if err != nil {
		return nil, err
	}
	if d == nil { // FIPS answered without the document: fetch it
		if d, err = c.Client.Document(ctx, c.Credential, request.ApplicationID, request.DocumentID); err != nil {
			return nil, err
		}
	}
	return api.FipsPutStatement200JSONResponse(fipsDocument(*d)), nil
}
