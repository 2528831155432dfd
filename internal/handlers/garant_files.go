package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// GarantExportTopic returns a document as RTF, ODT or PDF (export quota).
func (h garantHandlers) GarantExportTopic(ctx context.Context, request api.GarantExportTopicRequestObject) (api.GarantExportTopicResponseObject, error) {
	c, err := h.begin(ctx, "garantExportTopic")
	if err != nil {
		return nil, err
	}
	format := string(request.Format)
	a, err := c.cachedFile(ctx, request.Params.CacheControl, request.Topic, [2]any{request.Topic, format}, func(ctx context.Context) (*garant.File, error) {
		return c.svc.Client.Download(ctx, c.Credential.Secret, request.Topic, format)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(&a.Served)
	rl, pol := rateHeaders(&a.Served)
	hdr := api.GarantExportTopic200ResponseHeaders{CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}
	body, n := a.Body, a.Size
	switch mt := mediaType(a.ContentType); {
	case mt == "application/pdf" || (mt != "application/rtf" && mt != "application/vnd.oasis.opendocument.text" && format == garant.FormatPDF):
		return api.GarantExportTopic200ApplicationpdfResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	case mt == "application/vnd.oasis.opendocument.text" || (mt != "application/rtf" && format == garant.FormatODT):
		return api.GarantExportTopic200ApplicationvndOasisOpendocumentTextResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	default:
		return api.GarantExportTopic200ApplicationrtfResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	}
}

// GarantGetImage returns an image of exported HTML (export quota).
func (h garantHandlers) GarantGetImage(ctx context.Context, request api.GarantGetImageRequestObject) (api.GarantGetImageResponseObject, error) {
	c, err := h.begin(ctx, "garantGetImage")
	if err != nil {
		return nil, err
	}
	a, err := c.cachedFile(ctx, request.Params.CacheControl, 0, request.ObjectID, func(ctx context.Context) (*garant.File, error) {
		return c.svc.Client.Image(ctx, c.Credential.Secret, request.ObjectID)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(&a.Served)
	rl, pol := rateHeaders(&a.Served)
	hdr := api.GarantGetImage200ResponseHeaders{CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}
	body, n := a.Body, a.Size
	if mediaType(a.ContentType) == "image/png" {
		return api.GarantGetImage200ImagepngResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	}
	return api.GarantGetImage200ApplicationoctetStreamResponse{Body: body, ContentLength: n, Headers: hdr}, nil
}

// GarantGetFormula renders a formula of exported HTML (export quota).
func (h garantHandlers) GarantGetFormula(ctx context.Context, request api.GarantGetFormulaRequestObject) (api.GarantGetFormulaResponseObject, error) {
	c, err := h.begin(ctx, "garantGetFormula")
	if err != nil {
		return nil, err
	}
	format := "png"
	if request.Params.Fmt != nil {
		format = string(*request.Params.Fmt)
	}
	a, err := c.cachedFile(ctx, request.Params.CacheControl, 0, [2]string{request.Params.Text, format}, func(ctx context.Context) (*garant.File, error) {
		return c.svc.Client.Formula(ctx, c.Credential.Secret, request.Params.Text, format)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(&a.Served)
	rl, pol := rateHeaders(&a.Served)
	body, n := a.Body, a.Size
	return api.GarantGetFormula200ImagepngResponse{Body: body, ContentLength: n, Headers: api.GarantGetFormula200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}
