package handlers

import (
	"context"

	"github.com/legalgate/legalgate/internal/api"
)

// FIPS is what the FIPS operations need (filled in by the FIPS issue).
type FIPS struct{}

// fipsHandlers implements the FIPS Registrator operations of the contract.
type fipsHandlers struct {
	deps *Deps
}

// FipsListApplications is not built yet.
func (h fipsHandlers) FipsListApplications(ctx context.Context, request api.FipsListApplicationsRequestObject) (api.FipsListApplicationsResponseObject, error) {
	return nil, notBuilt("fipsListApplications")
}

// FipsCreateApplication is not built yet.
func (h fipsHandlers) FipsCreateApplication(ctx context.Context, request api.FipsCreateApplicationRequestObject) (api.FipsCreateApplicationResponseObject, error) {
	return nil, notBuilt("fipsCreateApplication")
}

// FipsDeleteApplication is not built yet.
func (h fipsHandlers) FipsDeleteApplication(ctx context.Context, request api.FipsDeleteApplicationRequestObject) (api.FipsDeleteApplicationResponseObject, error) {
	return nil, notBuilt("fipsDeleteApplication")
}

// FipsGetApplication is not built yet.
func (h fipsHandlers) FipsGetApplication(ctx context.Context, request api.FipsGetApplicationRequestObject) (api.FipsGetApplicationResponseObject, error) {
	return nil, notBuilt("fipsGetApplication")
}

// FipsUpdateApplication is not built yet.
func (h fipsHandlers) FipsUpdateApplication(ctx context.Context, request api.FipsUpdateApplicationRequestObject) (api.FipsUpdateApplicationResponseObject, error) {
	return nil, notBuilt("fipsUpdateApplication")
}

// FipsListDocuments is not built yet.
func (h fipsHandlers) FipsListDocuments(ctx context.Context, request api.FipsListDocumentsRequestObject) (api.FipsListDocumentsResponseObject, error) {
	return nil, notBuilt("fipsListDocuments")
}

// FipsCreateDocument is not built yet.
func (h fipsHandlers) FipsCreateDocument(ctx context.Context, request api.FipsCreateDocumentRequestObject) (api.FipsCreateDocumentResponseObject, error) {
	return nil, notBuilt("fipsCreateDocument")
}

// FipsDeleteDocument is not built yet.
func (h fipsHandlers) FipsDeleteDocument(ctx context.Context, request api.FipsDeleteDocumentRequestObject) (api.FipsDeleteDocumentResponseObject, error) {
	return nil, notBuilt("fipsDeleteDocument")
}

// FipsGetDocument is not built yet.
func (h fipsHandlers) FipsGetDocument(ctx context.Context, request api.FipsGetDocumentRequestObject) (api.FipsGetDocumentResponseObject, error) {
	return nil, notBuilt("fipsGetDocument")
}

// FipsUpdateDocument is not built yet.
func (h fipsHandlers) FipsUpdateDocument(ctx context.Context, request api.FipsUpdateDocumentRequestObject) (api.FipsUpdateDocumentResponseObject, error) {
	return nil, notBuilt("fipsUpdateDocument")
}

// FipsClearDocumentFile is not built yet.
func (h fipsHandlers) FipsClearDocumentFile(ctx context.Context, request api.FipsClearDocumentFileRequestObject) (api.FipsClearDocumentFileResponseObject, error) {
	return nil, notBuilt("fipsClearDocumentFile")
}

// FipsGetDocumentFile is not built yet.
func (h fipsHandlers) FipsGetDocumentFile(ctx context.Context, request api.FipsGetDocumentFileRequestObject) (api.FipsGetDocumentFileResponseObject, error) {
	return nil, notBuilt("fipsGetDocumentFile")
}

// FipsPutDocumentFile is not built yet.
func (h fipsHandlers) FipsPutDocumentFile(ctx context.Context, request api.FipsPutDocumentFileRequestObject) (api.FipsPutDocumentFileResponseObject, error) {
	return nil, notBuilt("fipsPutDocumentFile")
}

// FipsListSignatures is not built yet.
func (h fipsHandlers) FipsListSignatures(ctx context.Context, request api.FipsListSignaturesRequestObject) (api.FipsListSignaturesResponseObject, error) {
	return nil, notBuilt("fipsListSignatures")
}

// FipsAddSignature is not built yet.
func (h fipsHandlers) FipsAddSignature(ctx context.Context, request api.FipsAddSignatureRequestObject) (api.FipsAddSignatureResponseObject, error) {
	return nil, notBuilt("fipsAddSignature")
}

// FipsGetStatement is not built yet.
func (h fipsHandlers) FipsGetStatement(ctx context.Context, request api.FipsGetStatementRequestObject) (api.FipsGetStatementResponseObject, error) {
	return nil, notBuilt("fipsGetStatement")
}

// FipsPutStatement is not built yet.
func (h fipsHandlers) FipsPutStatement(ctx context.Context, request api.FipsPutStatementRequestObject) (api.FipsPutStatementResponseObject, error) {
	return nil, notBuilt("fipsPutStatement")
}

// FipsGetPackage is not built yet.
func (h fipsHandlers) FipsGetPackage(ctx context.Context, request api.FipsGetPackageRequestObject) (api.FipsGetPackageResponseObject, error) {
	return nil, notBuilt("fipsGetPackage")
}

// FipsSubmitApplication is not built yet.
func (h fipsHandlers) FipsSubmitApplication(ctx context.Context, request api.FipsSubmitApplicationRequestObject) (api.FipsSubmitApplicationResponseObject, error) {
	return nil, notBuilt("fipsSubmitApplication")
}

// FipsListApplicantCategories is not built yet.
func (h fipsHandlers) FipsListApplicantCategories(ctx context.Context, request api.FipsListApplicantCategoriesRequestObject) (api.FipsListApplicantCategoriesResponseObject, error) {
	return nil, notBuilt("fipsListApplicantCategories")
}

// FipsListApplicantDocumentTypes is not built yet.
func (h fipsHandlers) FipsListApplicantDocumentTypes(ctx context.Context, request api.FipsListApplicantDocumentTypesRequestObject) (api.FipsListApplicantDocumentTypesResponseObject, error) {
	return nil, notBuilt("fipsListApplicantDocumentTypes")
}

// FipsListDocumentTypes is not built yet.
func (h fipsHandlers) FipsListDocumentTypes(ctx context.Context, request api.FipsListDocumentTypesRequestObject) (api.FipsListDocumentTypesResponseObject, error) {
	return nil, notBuilt("fipsListDocumentTypes")
}
