package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// FIPS is what the FIPS operations need.
type FIPS struct {
	Client *fips.Client
	// Idem records Idempotency-Key answers of the creating operations
	// (application, document, signature, submission).
	Idem *idempotency.Store
}

// fipsHandlers implements the FIPS Registrator operations of the contract.
// Ids are passed on as they came (the client path-escapes them); content
// streams through without being buffered or re-encoded.
type fipsHandlers struct {
	deps *Deps
}

// fipsBase is the gateway's path prefix of FIPS resources.
const fipsBase = "/v1/fips/applications/"

// fipsCall is what every operation starts with.
type fipsCall struct {
	*FIPS
	tenant *tenant.Tenant
	cred   *tenant.Credential
}

func (h fipsHandlers) start(ctx context.Context, op string) (fipsCall, error) {
	if h.deps.FIPS == nil || h.deps.FIPS.Client == nil {
		return fipsCall{}, notBuilt(op)
	}
	t, cred, err := credentialFor(ctx, fips.Upstream)
	if err != nil {
		return fipsCall{}, err
	}
	return fipsCall{FIPS: h.deps.FIPS, tenant: t, cred: cred}, nil
}

// ---------------------------------------------------------------- applications

// FipsListApplications lists the applications of the tenant's FIPS account.
func (h fipsHandlers) FipsListApplications(ctx context.Context, request api.FipsListApplicationsRequestObject) (api.FipsListApplicationsResponseObject, error) {
	c, err := h.start(ctx, fips.OpListApplications)
	if err != nil {
		return nil, err
	}
	p := request.Params
	o := fips.ListOptions{SortDescend: p.SortDescend}
	if p.Kind != nil {
		o.Kind = string(*p.Kind)
	}
	if p.SortField != nil {
		o.SortField = *p.SortField
	}
	list, err := c.Client.ListApplications(ctx, c.cred, o)
	if err != nil {
		return nil, err
	}
	out := api.FipsListApplications200JSONResponse{Applications: make([]api.FIPSApplication, 0, len(list))}
	for _, a := range list {
		out.Applications = append(out.Applications, fipsApplication(a))
	}
	return out, nil
}

// FipsCreateApplication creates a draft after checking its category against
// the applicant-category dictionary.
func (h fipsHandlers) FipsCreateApplication(ctx context.Context, request api.FipsCreateApplicationRequestObject) (api.FipsCreateApplicationResponseObject, error) {
	c, err := h.start(ctx, fips.OpCreateApplication)
	if err != nil {
		return nil, err
	}
	b := request.Body
	in := fips.ApplicationInput{Type: string(b.Type), Category: b.Category, Title: b.Title, Attributes: fipsAttrs(b.Attributes)}
	return c.idempotent(ctx, request.Params.IdempotencyKey, fips.OpCreateApplication, nil, b,
		func(ctx context.Context) (idempotency.Response, error) {
			if err := c.checkCategory(ctx, b.Category); err != nil {
				return idempotency.Response{}, err
			}
			a, loc, err := c.Client.CreateApplication(ctx, c.cred, in)
			if err != nil {
				return idempotency.Response{}, err
			}
			id := a.ID
			if r, ok := c.Client.ResolveLocation(loc, fips.OpGetApplication); ok {
				id = r.ApplicationID
			}
			return fipsJSON(http.StatusCreated, fipsApplicationPath(id), fipsApplication(*a))
		})
}

// FipsGetApplication returns an application by internal id or registration number.
func (h fipsHandlers) FipsGetApplication(ctx context.Context, request api.FipsGetApplicationRequestObject) (api.FipsGetApplicationResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetApplication)
	if err != nil {
		return nil, err
	}
	a, err := c.Client.Application(ctx, c.cred, request.ApplicationID)
	if err != nil {
		return nil, err
	}
	return api.FipsGetApplication200JSONResponse(fipsApplication(*a)), nil
}

// FipsUpdateApplication replaces a draft's attributes.
func (h fipsHandlers) FipsUpdateApplication(ctx context.Context, request api.FipsUpdateApplicationRequestObject) (api.FipsUpdateApplicationResponseObject, error) {
	c, err := h.start(ctx, fips.OpUpdateApplication)
	if err != nil {
		return nil, err
	}
	b := request.Body
	if err := c.checkCategory(ctx, b.Category); err != nil {
		return nil, err
	}
	in := fips.ApplicationInput{Category: b.Category, Title: b.Title, Attributes: fipsAttrs(b.Attributes)}
	a, err := c.Client.UpdateApplication(ctx, c.cred, request.ApplicationID, in)
	if err != nil {
		return nil, err
	}
	return api.FipsUpdateApplication200JSONResponse(fipsApplication(*a)), nil
}

// FipsDeleteApplication deletes a draft.
func (h fipsHandlers) FipsDeleteApplication(ctx context.Context, request api.FipsDeleteApplicationRequestObject) (api.FipsDeleteApplicationResponseObject, error) {
	c, err := h.start(ctx, fips.OpDeleteApplication)
	if err != nil {
		return nil, err
	}
	if err := c.Client.DeleteApplication(ctx, c.cred, request.ApplicationID); err != nil {
		return nil, err
	}
	return api.FipsDeleteApplication204Response{}, nil
}

// FipsGetPackage streams the package to sign, byte for byte.
func (h fipsHandlers) FipsGetPackage(ctx context.Context, request api.FipsGetPackageRequestObject) (api.FipsGetPackageResponseObject, error) {
	c, err := h.start(ctx, fips.OpGetPackage)
	if err != nil {
		return nil, err
	}
	content, err := c.Client.Package(ctx, c.cred, request.ApplicationID)
	if err != nil {
		return nil, err
	}
	return fipsStream{content: content, defaultType: "application/xml"}, nil
}

// FipsSubmitApplication sends the application with the detached signature of its package.
func (h fipsHandlers) FipsSubmitApplication(ctx context.Context, request api.FipsSubmitApplicationRequestObject) (api.FipsSubmitApplicationResponseObject, error) {
	c, err := h.start(ctx, fips.OpSubmitApplication)
	if err != nil {
		return nil, err
	}
	b := request.Body
	return c.idempotent(ctx, request.Params.IdempotencyKey, fips.OpSubmitApplication, []string{request.ApplicationID}, b,
		func(ctx context.Context) (idempotency.Response, error) {
			r, err := c.Client.Submit(ctx, c.cred, request.ApplicationID, string(b.Algorithm), b.Signature)
			if err != nil {
				return idempotency.Response{}, err
			}
			out := api.FIPSSubmissionResult{Status: r.Status, RegistrationNumber: r.RegistrationNumber,
				RegistrationDate: r.RegistrationDate, IncomingNumber: fipsOptional(r.IncomingNumber)}
			return fipsJSON(http.StatusOK, "", out)
		})
}

// ---------------------------------------------------------------- documents

// FipsListDocuments lists an application's documents.
func (h fipsHandlers) FipsListDocuments(ctx context.Context, request api.FipsListDocumentsRequestObject) (api.FipsListDocumentsResponseObject, error) {
	c, err := h.start(ctx, fips.OpListDocuments)
	if err != nil {
		return nil, err
	}
	list, err := c.Client.ListDocuments(ctx, c.cred, request.ApplicationID)
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
	typ, title := fipsDeref(b.Type), fipsDeref(b.TypeTitle)
	if (typ == "") == (title == "") {
		return nil, &apperr.Error{Kind: apperr.Invalid, Detail: "send exactly one of type and typeTitle",
			Fields: []apperr.FieldError{{Field: "body.type", Message: "send exactly one of type and typeTitle"}}}
	}
	appID := request.ApplicationID
	in := fips.DocumentInput{Type: typ, TypeTitle: title, Description: b.Name}
	return c.idempotent(ctx, request.Params.IdempotencyKey, fips.OpCreateDocument, []string{appID}, b,
		func(ctx context.Context) (idempotency.Response, error) {
			if err := c.checkDocumentType(ctx, typ, title); err != nil {
				return idempotency.Response{}, err
			}
			d, loc, err := c.Client.CreateDocument(ctx, c.cred, appID, in)
			if err != nil {
				return idempotency.Response{}, err
			}
			app, doc := appID, d.ID
			if r, ok := c.Client.ResolveLocation(loc, fips.OpGetDocument); ok {
				app, doc = r.ApplicationID, r.DocumentID
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
	d, err := c.Client.Document(ctx, c.cred, request.ApplicationID, request.DocumentID)
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
	d, err := c.Client.UpdateDocument(ctx, c.cred, request.ApplicationID, request.DocumentID, in)
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
	if err := c.Client.DeleteDocument(ctx, c.cred, request.ApplicationID, request.DocumentID); err != nil {
		return nil, err
	}
	return api.FipsDeleteDocument204Response{}, nil
}

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

// ---------------------------------------------------------------- signatures

// FipsListSignatures lists a document's signatures.
func (h fipsHandlers) FipsListSignatures(ctx context.Context, request api.FipsListSignaturesRequestObject) (api.FipsListSignaturesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListSignatures)
	if err != nil {
		return nil, err
	}
	list, err := c.Client.ListSignatures(ctx, c.cred, request.ApplicationID, request.DocumentID)
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
			status, results, err := c.Client.AddSignatures(ctx, c.cred, appID, docID, sigs)
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
					item.Error = fipsItemProblem(r.Code, r.Error)
				}
				out.Results = append(out.Results, item)
			}
			return fipsJSON(http.StatusMultiStatus, "", out)
		})
}

// ---------------------------------------------------------------- dictionaries

// FipsListApplicantCategories lists the applicant categories (cached).
func (h fipsHandlers) FipsListApplicantCategories(ctx context.Context, request api.FipsListApplicantCategoriesRequestObject) (api.FipsListApplicantCategoriesResponseObject, error) {
	c, err := h.start(ctx, fips.OpListApplicantCategories)
	if err != nil {
		return nil, err
	}
	entries, err := c.Client.ApplicantCategories(ctx, c.cred)
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
	entries, err := c.Client.ApplicantDocumentTypes(ctx, c.cred)
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
	entries, err := c.Client.DocumentTypes(ctx, c.cred)
	if err != nil {
		return nil, err
	}
	out := api.FipsListDocumentTypes200JSONResponse{Items: make([]api.FIPSDocumentType, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, api.FIPSDocumentType{Name: e.Name, Code: fipsOptional(e.Code), Description: e.Description})
	}
	return out, nil
}

// ---------------------------------------------------------------- checks

// checkCategory refuses a category that is not a full path of the
// applicant-category dictionary, before anything is sent to FIPS.
func (c fipsCall) checkCategory(ctx context.Context, category string) error {
	cats, err := c.Client.ApplicantCategories(ctx, c.cred)
	if err != nil {
		return err
	}
	var near []string
	for _, e := range cats {
		if e.Name == category {
			return nil
		}
		if strings.HasSuffix(e.Name, `\`+category) {
			near = append(near, e.Name)
		}
	}
	msg := "is not an applicant category; send a full path exactly as listed by fipsListApplicantCategories"
	if len(near) > 0 {
		msg += `, for example "` + near[0] + `"`
	}
	return apperr.InvalidField("body.category", msg)
}

// checkDocumentType refuses a type code or template name that no dictionary lists.
func (c fipsCall) checkDocumentType(ctx context.Context, code, title string) error {
	common, err := c.Client.DocumentTypes(ctx, c.cred)
	if err != nil {
		return err
	}
	for _, e := range common {
		if (code != "" && e.Code == code) || (title != "" && e.Name == title) {
			return nil
		}
	}
	if code != "" {
		return apperr.InvalidField("body.type", "is not a document type code listed by fipsListDocumentTypes")
	}
	own, err := c.Client.ApplicantDocumentTypes(ctx, c.cred)
	if err != nil {
		return err
	}
	for _, e := range own {
		if e.Name == title {
			return nil
		}
	}
	return apperr.InvalidField("body.typeTitle", "is not a template name listed by fipsListDocumentTypes or fipsListApplicantDocumentTypes")
}

// ---------------------------------------------------------------- idempotent creates

// idempotent runs create at most once per tenant and Idempotency-Key for the
// same request (operation, path ids and canonical JSON body). With a key the
// upstream call outlives a dropped client connection, so that the retry can
// replay its answer.
func (c fipsCall) idempotent(ctx context.Context, key *string, op string, ids []string, body any, create func(context.Context) (idempotency.Response, error)) (fipsReplayable, error) {
	k := fipsDeref(key)
	if k == "" {
		r, err := create(ctx)
		return fipsReplayable{r: r}, err
	}
	if c.Idem == nil {
		return fipsReplayable{}, apperr.New(apperr.Unavailable, "Idempotency-Key is not supported by this gateway's configuration")
	}
	canonical, err := json.Marshal(body) // the decoded body: member order and spacing do not matter
	if err != nil {
		return fipsReplayable{}, apperr.Wrap(apperr.Internal, "", err)
	}
	parts := [][]byte{[]byte(op)}
	for _, id := range ids {
		parts = append(parts, []byte(id))
	}
	fp := idempotency.Fingerprint(append(parts, canonical)...)
	r, replayed, err := c.Idem.Do(ctx, c.tenant.ID, k, fp, func(ctx context.Context) (idempotency.Response, error) {
		return create(context.WithoutCancel(ctx))
	})
	return fipsReplayable{r: r, replayed: replayed}, err
}

// fipsJSON renders an answer once, so that a replay sends the same bytes.
func fipsJSON(status int, location string, v any) (idempotency.Response, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return idempotency.Response{}, apperr.Wrap(apperr.Internal, "", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if location != "" {
		h.Set("Location", location)
	}
	return idempotency.Response{Status: status, Header: h, Body: buf.Bytes()}, nil
}

// fipsReplayable writes a recorded answer (first or replayed).
type fipsReplayable struct {
	r        idempotency.Response
	replayed bool
}

func (x fipsReplayable) write(w http.ResponseWriter) error {
	for k, v := range x.r.Header {
		w.Header()[k] = v
	}
	if x.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(x.r.Status)
	_, err := w.Write(x.r.Body)
	return err
}

func (x fipsReplayable) VisitFipsCreateApplicationResponse(w http.ResponseWriter) error {
	return x.write(w)
}
func (x fipsReplayable) VisitFipsCreateDocumentResponse(w http.ResponseWriter) error {
	return x.write(w)
}
func (x fipsReplayable) VisitFipsAddSignatureResponse(w http.ResponseWriter) error { return x.write(w) }
func (x fipsReplayable) VisitFipsSubmitApplicationResponse(w http.ResponseWriter) error {
	return x.write(w)
}

// ---------------------------------------------------------------- content

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

// ---------------------------------------------------------------- mapping

func fipsApplicationPath(appID string) string { return fipsBase + url.PathEscape(appID) }

func fipsDocumentPath(appID, docID string) string {
	return fipsApplicationPath(appID) + "/documents/" + url.PathEscape(docID)
}

func fipsApplication(a fips.Application) api.FIPSApplication {
	unread, unregistered := a.Documents.Unread > 0, a.Documents.Unregistered > 0
	return api.FIPSApplication{
		ID: a.ID, RegistrationNumber: fipsOptional(a.RegistrationNumber), Type: api.FIPSApplicationType(a.Type),
		Category: a.Category, Title: fipsOptional(a.Title), Status: fipsOptional(a.Status),
		CreatedAt: a.CreatedAt, RegistrationDate: a.RegistrationDate, IncomingNumber: fipsOptional(a.IncomingNumber),
		HasUnreadDocuments: &unread, HasUnregisteredDocuments: &unregistered, Trusted: &a.Trusted,
		Attributes: fipsAPIAttrs(a.Extra),
	}
}

func fipsDocument(d fips.Document) api.FIPSDocument {
	hasFile, signed := d.Size > 0, d.Signatures > 0
	return api.FIPSDocument{
		ID: d.ID, RegistrationNumber: fipsOptional(d.RegistrationNumber), Type: d.Type,
		TypeTitle: fipsOptional(d.TypeTitle), Name: fipsOptional(d.Description), Structured: &d.Structured,
		HasFile: &hasFile, Signed: &signed, Read: &d.Read, CreatedAt: d.CreatedAt,
		Attributes: fipsAPIAttrs(d.Extra),
	}
}

func fipsSignature(s fips.Signature) api.FIPSSignature {
	return api.FIPSSignature{ID: s.ID, Algorithm: api.FIPSSignatureAlgorithm(s.Algorithm), Signer: s.Signer,
		CertificateSerial: s.CertificateSerial, SignedAt: s.SignedAt}
}

func fipsDictionary(entries []fips.Entry) api.FIPSDictionary {
	out := api.FIPSDictionary{Items: make([]api.FIPSDictionaryEntry, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, api.FIPSDictionaryEntry{Name: e.Name, Description: e.Description})
	}
	return out
}

// fipsItemProblem is the problem of one failed item of a 207, built like the
// problems of errors.go.
func fipsItemProblem(code int, err error) *api.Problem {
	e, ok := apperr.As(err)
	if !ok {
		e = &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: fips.Upstream}
	}
	slug := kindSlug[e.Kind]
	if e.Type != "" {
		slug = e.Type
	}
	title := e.Title
	if title == "" {
		title = http.StatusText(code)
	}
	p := &api.Problem{Type: ProblemTypeBase + slug, Title: title, Status: code, Detail: fipsOptional(e.Detail)}
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, api.FieldError{Field: f.Field, Message: f.Message})
	}
	if e.Upstream != "" {
		u := api.ProblemUpstream(e.Upstream)
		p.Upstream = &u
	}
	return p
}

func fipsAttrs(a *api.FIPSAttributes) map[string]any {
	if a == nil {
		return nil
	}
	return *a
}

func fipsAPIAttrs(m map[string]any) *api.FIPSAttributes {
	if len(m) == 0 {
		return nil
	}
	a := api.FIPSAttributes(m)
	return &a
}

func fipsOptional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fipsDeref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
