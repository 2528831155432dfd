package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
)

// garantHandlers implements the Garant Connect operations of the contract.
type garantHandlers struct {
	deps *Deps
}

// GarantPurgeCache is not built yet.
func (h garantHandlers) GarantPurgeCache(ctx context.Context, request api.GarantPurgeCacheRequestObject) (api.GarantPurgeCacheResponseObject, error) {
	return nil, notBuilt("garantPurgeCache")
}

// GarantCourtPractice is not built yet.
func (h garantHandlers) GarantCourtPractice(ctx context.Context, request api.GarantCourtPracticeRequestObject) (api.GarantCourtPracticeResponseObject, error) {
	return nil, notBuilt("garantCourtPractice")
}

// GarantGetFormula is not built yet.
func (h garantHandlers) GarantGetFormula(ctx context.Context, request api.GarantGetFormulaRequestObject) (api.GarantGetFormulaResponseObject, error) {
	return nil, notBuilt("garantGetFormula")
}

// GarantFindHyperlinks is not built yet.
func (h garantHandlers) GarantFindHyperlinks(ctx context.Context, request api.GarantFindHyperlinksRequestObject) (api.GarantFindHyperlinksResponseObject, error) {
	return nil, notBuilt("garantFindHyperlinks")
}

// GarantGetImage is not built yet.
func (h garantHandlers) GarantGetImage(ctx context.Context, request api.GarantGetImageRequestObject) (api.GarantGetImageResponseObject, error) {
	return nil, notBuilt("garantGetImage")
}

// GarantGetLimits is not built yet.
func (h garantHandlers) GarantGetLimits(ctx context.Context, request api.GarantGetLimitsRequestObject) (api.GarantGetLimitsResponseObject, error) {
	return nil, notBuilt("garantGetLimits")
}

// GarantFindModified is not built yet.
func (h garantHandlers) GarantFindModified(ctx context.Context, request api.GarantFindModifiedRequestObject) (api.GarantFindModifiedResponseObject, error) {
	return nil, notBuilt("garantFindModified")
}

// GarantBlocksChanged is not built yet.
func (h garantHandlers) GarantBlocksChanged(ctx context.Context, request api.GarantBlocksChangedRequestObject) (api.GarantBlocksChangedResponseObject, error) {
	return nil, notBuilt("garantBlocksChanged")
}

// GarantPrimeCategories is not built yet.
func (h garantHandlers) GarantPrimeCategories(ctx context.Context, request api.GarantPrimeCategoriesRequestObject) (api.GarantPrimeCategoriesResponseObject, error) {
	return nil, notBuilt("garantPrimeCategories")
}

// GarantPrimeNews is not built yet.
func (h garantHandlers) GarantPrimeNews(ctx context.Context, request api.GarantPrimeNewsRequestObject) (api.GarantPrimeNewsResponseObject, error) {
	return nil, notBuilt("garantPrimeNews")
}

// GarantSearch is not built yet.
func (h garantHandlers) GarantSearch(ctx context.Context, request api.GarantSearchRequestObject) (api.GarantSearchResponseObject, error) {
	return nil, notBuilt("garantSearch")
}

// GarantSnippets is not built yet.
func (h garantHandlers) GarantSnippets(ctx context.Context, request api.GarantSnippetsRequestObject) (api.GarantSnippetsResponseObject, error) {
	return nil, notBuilt("garantSnippets")
}

// GarantGetTopic is not built yet.
func (h garantHandlers) GarantGetTopic(ctx context.Context, request api.GarantGetTopicRequestObject) (api.GarantGetTopicResponseObject, error) {
	return nil, notBuilt("garantGetTopic")
}

// GarantGetTopicEditions is not built yet.
func (h garantHandlers) GarantGetTopicEditions(ctx context.Context, request api.GarantGetTopicEditionsRequestObject) (api.GarantGetTopicEditionsResponseObject, error) {
	return nil, notBuilt("garantGetTopicEditions")
}

// GarantGetEntryHTML is not built yet.
func (h garantHandlers) GarantGetEntryHTML(ctx context.Context, request api.GarantGetEntryHTMLRequestObject) (api.GarantGetEntryHTMLResponseObject, error) {
	return nil, notBuilt("garantGetEntryHTML")
}

// GarantExportTopic is not built yet.
func (h garantHandlers) GarantExportTopic(ctx context.Context, request api.GarantExportTopicRequestObject) (api.GarantExportTopicResponseObject, error) {
	return nil, notBuilt("garantExportTopic")
}

// GarantGetTopicHTML is not built yet.
func (h garantHandlers) GarantGetTopicHTML(ctx context.Context, request api.GarantGetTopicHTMLRequestObject) (api.GarantGetTopicHTMLResponseObject, error) {
	return nil, notBuilt("garantGetTopicHTML")
}
