package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FipsListApplicantCategories lists the applicant categories (cached).
func (h fipsHandlers) FipsListApplicantCategories(ctx context.Context, request api.FipsListApplicantCategoriesRequestObject) (api.FipsListApplicantCategoriesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListApplicantCategories)
	if err != nil {
		return nil, err
	}
	entries, err := c.Client.ApplicantCategories(ctx, c.Credential)
	if err != nil {
		return nil, err
	}
	return api.FipsListApplicantCategories200JSONResponse(fipsDictionary(entries)), nil
}

// FipsListApplicantDocumentTypes lists the account's document templates (cached).
func (h fipsHandlers) FipsListApplicantDocumentTypes(ctx context.Context, request api.FipsListApplicantDocumentTypesRequestObject) (api.FipsListApplicantDocumentTypesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListApplicantDocumentTypes)
	if err != nil {
		return nil, err
	}
	entries, err := c.Client.ApplicantDocumentTypes(ctx, c.Credential)
	if err != nil {
		return nil, err
	}
	return api.FipsListApplicantDocumentTypes200JSONResponse(fipsDictionary(entries)), nil
}

// FipsListDocumentTypes lists the common document types (cached).
func (h fipsHandlers) FipsListDocumentTypes(ctx context.Context, request api.FipsListDocumentTypesRequestObject) (api.FipsListDocumentTypesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListDocumentTypes)
	if err != nil {
		return nil, err
	}
	entries, err := c.Client.DocumentTypes(ctx, c.Credential)
	if err != nil {
		return nil, err
	}
	out := api.FipsListDocumentTypes200JSONResponse{Items: make([]api.FIPSDocumentType, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, api.FIPSDocumentType{Name: e.Name, Code: fipsOptional(e.Code), Description: e.Description,
			Attributes: fipsUpstreamAttrs(e.Extra)})
	}
	return out, nil
}
