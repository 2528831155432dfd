package handlers

import (
	"context"
	"net/http"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FipsListDocuments lists an application's documents.
func (h fipsHandlers) FipsListDocuments(ctx context.Context, request api.FipsListDocumentsRequestObject) (api.FipsListDocumentsResponseObject, error) {
	c, err := h.start(ctx, fips.OpListDocuments)
	if err != nil {
		return nil, err
	}
	list, err := c.Client.ListDocuments(ctx, c.Credential, request.ApplicationID)
	if err != nil {
		return nil, err
	}
	out := api.FipsListDocuments200JSONResponse{Documents: make([]api.FIPSDocument, 0, len(list))}
	for _, d := range list {
		out.Documents = append(out.Documents, fipsDocument(d))
	}
	return out, nil
}

// FipsCreateDocument adds a document of a type given by code or by template
// name, checked against the dictionaries first.
func (h fipsHandlers) FipsCreateDocument(ctx context.Context, request api.FipsCreateDocumentRequestObject) (api.FipsCreateDocumentResponseObject, error) {
	c, err := h.start(ctx, fips.OpCreateDocument)
	if err != nil {
		return nil, err
	}
	b := request.Body
	typ, title := deref(b.Type), deref(b.TypeTitle)
	if (typ == "") == (title == "") {
		return nil, &apperr.Error{Kind: apperr.Invalid, Detail: "send exactly one of type and typeTitle",
			Fields: []apperr.FieldError{{Field: "body.type", Message: "send exactly one of type and typeTitle"}}}
	}
	appID := request.ApplicationID
	in := fips.DocumentInput{Type: typ, TypeTitle: title, Description: b.Name}
	return c.idempotent(ctx, request.Params.IdempotencyKey, fips.OpCreateDocument, []string{appID}, b,
		func(ctx context.Context) (idempotency.Response, error) {
			if err := c.CheckDocumentType(ctx, typ, title); err != nil {
				return idempotency.Response{}, err
			}
			d, loc, err := c.Client.CreateDocument(ctx, c.Credential, appID, in)
			if err != nil {
				return idempotency.Response{}, err
			}
			app, doc := appID, d.ID
			if r, ok := c.Client.ResolveLocation(loc, fips.OpGetDocument); ok {
				app, doc = r.ApplicationID, r.DocumentID
			}
			if doc == "" {
				return idempotency.Response{}, fipsNoID("document")
			}
			return fipsJSON(http.StatusCreated, fipsDocumentPath(app, doc), fipsDocument(*d))
		})
}

// FipsGetDocument returns a document.
func (h fipsHandlers) FipsGetDocument(ctx context.Context, request api.FipsGetDocumentRequestObject) (api.FipsGetDocumentResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetDocument)
	if err != nil {
		return nil, err
	}
	d, err := c.Client.Document(ctx, c.Credential, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	return api.FipsGetDocument200JSONResponse(fipsDocument(*d)), nil
}

// FipsUpdateDocument replaces a document's name and attributes.
func (h fipsHandlers) FipsUpdateDocument(ctx context.Context, request api.FipsUpdateDocumentRequestObject) (api.FipsUpdateDocumentResponseObject, error) {
	c, err := h.start(ctx, fips.OpUpdateDocument)
	if err != nil {
		return nil, err
	}
	in := fips.DocumentInput{Description: request.Body.Name, Attributes: fipsAttrs(request.Body.Attributes)}
	d, err := c.Client.UpdateDocument(ctx, c.Credential, request.ApplicationID, request.DocumentID, in)
	if err != nil {
		return nil, err
	}
	return api.FipsUpdateDocument200JSONResponse(fipsDocument(*d)), nil
}

// FipsDeleteDocument removes a document.
func (h fipsHandlers) FipsDeleteDocument(ctx context.Context, request api.FipsDeleteDocumentRequestObject) (api.FipsDeleteDocumentResponseObject, error) {
	c, err := h.start(ctx, fips.OpDeleteDocument)
	if err != nil {
		return nil, err
	}
	if err := c.Client.DeleteDocument(ctx, c.Credential, request.ApplicationID, request.DocumentID); err != nil {
		return nil, err
	}
	return api.FipsDeleteDocument204Response{}, nil
}
