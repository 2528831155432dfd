package handlers

import (
	"context"
	"net/http"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FipsListSignatures lists a document's signatures.
func (h fipsHandlers) FipsListSignatures(ctx context.Context, request api.FipsListSignaturesRequestObject) (api.FipsListSignaturesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListSignatures)
	if err != nil {
		return nil, err
	}
	list, err := c.Client.ListSignatures(ctx, c.Credential, request.ApplicationID, request.DocumentID)
	if err != nil {
		return nil, err
	}
	out := api.FipsListSignatures200JSONResponse{Signatures: make([]api.FIPSSignature, 0, len(list))}
	for _, s := range list {
		out.Signatures = append(out.Signatures, fipsSignature(s))
	}
	return out, nil
}

// FipsAddSignature attaches detached signatures: 201 for one, 207 with a
// typed result per signature for several.
func (h fipsHandlers) FipsAddSignature(ctx context.Context, request api.FipsAddSignatureRequestObject) (api.FipsAddSignatureResponseObject, error) {
	c, err := h.start(ctx, fips.OpAddSignature)
	if err != nil {
		return nil, err
	}
	b := request.Body
	appID, docID := request.ApplicationID, request.DocumentID
	sigs := make([]fips.SignatureInput, 0, len(b.Signatures))
	for _, s := range b.Signatures {
		sigs = append(sigs, fips.SignatureInput{Algorithm: string(s.Algorithm), Value: s.Value})
	}
	return c.idempotent(ctx, request.Params.IdempotencyKey, fips.OpAddSignature, []string{appID, docID}, b,
		func(ctx context.Context) (idempotency.Response, error) {
			status, results, err := c.Client.AddSignatures(ctx, c.Credential, appID, docID, sigs)
			if err != nil {
				return idempotency.Response{}, err
			}
			if status != http.StatusMultiStatus && len(results) == 1 && results[0].Signature != nil {
				created := api.FIPSSignatureCreated{Signature: fipsSignature(*results[0].Signature)}
				return fipsJSON(http.StatusCreated, fipsDocumentPath(appID, docID)+"/signatures", created)
			}
			out := api.FIPSSignatureMultiStatus{Results: make([]api.FIPSSignatureResult, 0, len(results))}
			for _, r := range results {
				item := api.FIPSSignatureResult{Code: r.Code}
				if r.Signature != nil {
					s := fipsSignature(*r.Signature)
					item.Signature = &s
				} else {
					if item.Error, err = fipsItemProblem(ctx, r.Error); err != nil {
						return idempotency.Response{}, err
					}
				}
				out.Results = append(out.Results, item)
			}
			return fipsJSON(http.StatusMultiStatus, "", out)
		})
}
