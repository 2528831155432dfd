package fips

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/tenant"
)

// Application is an application as FIPS describes it. Extra holds the
// members FIPS sent that are not fields here, as it sent them.
type Application struct {
	ID                 string         `json:"id"`
	RegistrationNumber string         `json:"registrationNumber"`
	Type               string         `json:"type"`
	Category           string         `json:"category"`
	Title              string         `json:"title"`
	Status             string         `json:"status"`
	CreatedAt          *time.Time     `json:"createdAt"`
	RegistrationDate   *time.Time     `json:"registrationDate"`
	IncomingNumber     string         `json:"incomingNumber"`
	Trusted            bool           `json:"trusted"`
	Documents          DocumentCounts `json:"documents"`
	Extra              map[string]any `json:"-"`
	Unread             []string       `json:"-"` // members whose values could not be read, kept in Extra as they came
}

// DocumentCounts summarises an application's documents.
type DocumentCounts struct {
	Total        int `json:"total"`
	Unread       int `json:"unread"`
	Unregistered int `json:"unregistered"`
	// Unreadable names the members whose values could not be read.
	Unreadable []string `json:"-"`
}

// Document is a document of an application. Description is the document's
// name; Extra holds FIPS's other members (file name, size, digest, ФЛК state…).
type Document struct {
	ID                 string         `json:"id"`
	RegistrationNumber string         `json:"registrationNumber"`
	Type               string         `json:"type"`
	TypeTitle          string         `json:"typeTitle"`
	Description        string         `json:"description"`
	Structured         bool           `json:"structured"`
	Read               bool           `json:"read"`
	Size               int64          `json:"size"`
	Signatures         int            `json:"signatures"`
	CreatedAt          *time.Time     `json:"createdAt"`
	Extra              map[string]any `json:"-"`
	Unread             []string       `json:"-"` // members whose values could not be read, kept in Extra as they came
}

// Signature is a detached signature attached to a document or a package.
type Signature struct {
	ID                string         `json:"id"`
	Algorithm         string         `json:"algorithm"`
	Signer            string         `json:"signer"`
	CertificateSerial string         `json:"certificateSerial"`
	SignedAt          time.Time      `json:"signedAt"`
	Extra             map[string]any `json:"-"`
	Unread            []string       `json:"-"` // members whose values could not be read, kept in Extra as they came
}

// Registration is what FIPS answers to a submission; Extra holds its other
// members.
type Registration struct {
	ID                 string         `json:"id"`
	Status             string         `json:"status"`
	RegistrationNumber string         `json:"registrationNumber"`
	RegistrationDate   time.Time      `json:"registrationDate"`
	IncomingNumber     string         `json:"incomingNumber"`
	Extra              map[string]any `json:"-"`
	Unread             []string       `json:"-"` // members whose values could not be read, kept in Extra as they came
}

// Entry is a dictionary entry; Code is set for document types that have
// one, Extra holds FIPS's other members.
type Entry struct {
	Name        string         `json:"name"`
	Code        string         `json:"code,omitempty"`
	Description string         `json:"description"`
	Extra       map[string]any `json:"-"`
	Unread      []string       `json:"-"` // members whose values could not be read, kept in Extra as they came
}

// The decoders below read FIPS's members leniently (decode.go): ids as
// strings or numbers, timestamps with or without a zone, names in any case.

func (a *Application) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*a = Application{
		ID: o.str("id"), RegistrationNumber: o.str("registrationNumber"), Type: o.str("type"),
		Category: o.str("category"), Title: o.str("title"), Status: o.str("status"),
		CreatedAt: o.timestamp("createdAt"), RegistrationDate: o.timestamp("registrationDate"),
		IncomingNumber: o.str("incomingNumber"), Trusted: o.boolean("trusted"),
	}
	o.into("documents", &a.Documents)
	if len(a.Documents.Unreadable) > 0 {
		// The counts are passed on as FIPS sent them.
		o.keep("documents")
		for _, n := range a.Documents.Unreadable {
			o.unread = append(o.unread, "documents."+n)
		}
	}
	a.Extra, err = o.extra()
	a.Unread = o.unread
	return err
}

func (c *DocumentCounts) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*c = DocumentCounts{Total: int(o.integer("total")), Unread: int(o.integer("unread")), Unregistered: int(o.integer("unregistered"))}
	c.Unreadable = o.unread
	return nil
}

func (d *Document) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*d = Document{
		ID: o.str("id"), RegistrationNumber: o.str("registrationNumber"), Type: o.str("type"),
		TypeTitle: o.str("typeTitle"), Description: o.str("description"), Structured: o.boolean("structured"),
		Read: o.boolean("read"), Size: o.integer("size"), Signatures: int(o.integer("signatures")),
		CreatedAt: o.timestamp("createdAt"),
	}
	// Size and the signature count stay among the attributes as FIPS sent
	// them: the contract shows only what they imply (hasFile, signed).
	o.keep("size")
	o.keep("signatures")
	d.Extra, err = o.extra()
	d.Unread = o.unread
	return err
}

func (s *Signature) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*s = Signature{ID: o.str("id"), Algorithm: o.str("algorithm"), Signer: o.str("signer"),
		CertificateSerial: o.str("certificateSerial")}
	if t := o.timestamp("signedAt"); t != nil {
		s.SignedAt = *t
	}
	s.Extra, err = o.extra()
	s.Unread = o.unread
	return err
}

func (r *Registration) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*r = Registration{ID: o.str("id"), Status: o.str("status"), RegistrationNumber: o.str("registrationNumber"),
		IncomingNumber: o.str("incomingNumber")}
	if t := o.timestamp("registrationDate"); t != nil {
		r.RegistrationDate = *t
	}
	r.Extra, err = o.extra()
	r.Unread = o.unread
	return err
}

func (e *Entry) UnmarshalJSON(b []byte) error {
	o, err := readObject(b)
	if err != nil {
		return err
	}
	*e = Entry{Name: o.str("name"), Code: o.str("code"), Description: o.str("description")}
	e.Extra, err = o.extra()
	e.Unread = o.unread
	return err
}

// MarshalJSON writes the entry with its Extra members, so that a cached
// dictionary keeps them.
func (e Entry) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Extra)+3)
	maps.Copy(m, e.Extra)
	m["name"], m["description"] = e.Name, e.Description
	if e.Code != "" {
		m["code"] = e.Code
	}
	return json.Marshal(m)
}

// ApplicationInput is the body of create and update. Attributes are further
// FIPS attributes sent as they are; the named fields take precedence.
type ApplicationInput struct {
	Type       string
	Category   string
	Title      *string
	Attributes map[string]any
}

// body is the JSON object FIPS takes, with the member names of f.
func (in ApplicationInput) body(f Fields) map[string]any {
	m := maps.Clone(in.Attributes)
	if m == nil {
		m = map[string]any{}
	}
	if in.Type != "" {
		m[f.ApplicationType] = in.Type
	}
	m[f.ApplicationCategory] = in.Category
	if in.Title != nil {
		m[f.ApplicationTitle] = *in.Title
	}
	return m
}

// DocumentInput is the body of document create (Type or TypeTitle) and
// update (Description and Attributes only).
type DocumentInput struct {
	Type        string
	TypeTitle   string
	Description *string
	Attributes  map[string]any
}

// body is the JSON object FIPS takes, with the member names of f.
func (in DocumentInput) body(f Fields) map[string]any {
	m := maps.Clone(in.Attributes)
	if m == nil {
		m = map[string]any{}
	}
	if in.Type != "" {
		m[f.DocumentType] = in.Type
	}
	if in.TypeTitle != "" {
		m[f.DocumentTypeTitle] = in.TypeTitle // FIPS's spelling by default
	}
	if in.Description != nil {
		m[f.DocumentDescription] = *in.Description
	}
	return m
}

// ListOptions filter and sort the application list; empty fields are not sent.
type ListOptions struct {
	Kind        string
	SortField   string
	SortDescend *bool
}

// ListApplications lists the applications the account authored or is a trustee of.
func (c *Client) ListApplications(ctx context.Context, cred *tenant.Credential, o ListOptions) ([]Application, error) {
	q := url.Values{}
	if o.Kind != "" {
		q.Set("kind", o.Kind)
	}
	if o.SortField != "" {
		q.Set("sortField", o.SortField)
	}
	if o.SortDescend != nil {
		q.Set("sortDescend", strconv.FormatBool(*o.SortDescend))
	}
	var out []Application
	_, _, err := c.doJSON(ctx, cred, call{op: OpListApplications, query: q}, nil, &out)
	return out, err
}

// CreateApplication creates a draft and returns it with FIPS's Location.
func (c *Client) CreateApplication(ctx context.Context, cred *tenant.Credential, in ApplicationInput) (*Application, string, error) {
	var out Application
	_, loc, err := c.doJSON(ctx, cred, call{op: OpCreateApplication}, in.body(c.fields), &out)
	if err != nil {
		return nil, "", err
	}
	return &out, loc, nil
}

// Application returns one application by internal id or registration number.
func (c *Client) Application(ctx context.Context, cred *tenant.Credential, appID string) (*Application, error) {
	var out Application
	_, _, err := c.doJSON(ctx, cred, call{op: OpGetApplication, ids: ids{app: appID}}, nil, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateApplication replaces an application's editable attributes.
func (c *Client) UpdateApplication(ctx context.Context, cred *tenant.Credential, appID string, in ApplicationInput) (*Application, error) {
	var out Application
	_, _, err := c.doJSON(ctx, cred, call{op: OpUpdateApplication, ids: ids{app: appID}}, in.body(c.fields), &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteApplication deletes a draft application.
func (c *Client) DeleteApplication(ctx context.Context, cred *tenant.Credential, appID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpDeleteApplication, ids: ids{app: appID}}, nil, nil)
	return err
}

// ListDocuments lists an application's documents.
func (c *Client) ListDocuments(ctx context.Context, cred *tenant.Credential, appID string) ([]Document, error) {
	var out []Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpListDocuments, ids: ids{app: appID}}, nil, &out)
	return out, err
}

// CreateDocument adds an empty document and returns it with FIPS's Location.
func (c *Client) CreateDocument(ctx context.Context, cred *tenant.Credential, appID string, in DocumentInput) (*Document, string, error) {
	var out Document
	_, loc, err := c.doJSON(ctx, cred, call{op: OpCreateDocument, ids: ids{app: appID}}, in.body(c.fields), &out)
	if err != nil {
		return nil, "", err
	}
	return &out, loc, nil
}

// Document returns one document.
func (c *Client) Document(ctx context.Context, cred *tenant.Credential, appID, docID string) (*Document, error) {
	var out Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpGetDocument, ids: ids{appID, docID}}, nil, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDocument replaces a document's editable attributes.
func (c *Client) UpdateDocument(ctx context.Context, cred *tenant.Credential, appID, docID string, in DocumentInput) (*Document, error) {
	var out Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpUpdateDocument, ids: ids{appID, docID}}, in.body(c.fields), &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDocument removes a document.
func (c *Client) DeleteDocument(ctx context.Context, cred *tenant.Credential, appID, docID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpDeleteDocument, ids: ids{appID, docID}}, nil, nil)
	return err
}

// ClearDocumentFile removes a document's content (and its signatures).
func (c *Client) ClearDocumentFile(ctx context.Context, cred *tenant.Credential, appID, docID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpClearDocumentFile, ids: ids{appID, docID}}, nil, nil)
	return err
}

// ListSignatures lists the signatures of a document's current content.
func (c *Client) ListSignatures(ctx context.Context, cred *tenant.Credential, appID, docID string) ([]Signature, error) {
	var out []Signature
	_, _, err := c.doJSON(ctx, cred, call{op: OpListSignatures, ids: ids{appID, docID}}, nil, &out)
	return out, err
}

// SignatureInput is one detached CMS signature; Value is the raw CMS, sent
// as the route's signature shape says (base64 in JSON, a file part, or the
// bytes alone), its bytes unchanged.
type SignatureInput struct {
	Algorithm string
	Value     []byte
}

// SignatureResult is the outcome of one signature of a batch. Error is set
// when Code is not 2xx.
type SignatureResult struct {
	Code      int
	Signature *Signature
	Error     error
}

// AddSignatures attaches signatures. FIPS answers one signature with 201 and
// several with 207 and a result per item; both come back as results (one
// item for 201), with the answer's status. With the raw signature shape
// each signature is its own request, and several come back as a 207 of
// their own outcomes.
func (c *Client) AddSignatures(ctx context.Context, cred *tenant.Credential, appID, docID string, sigs []SignatureInput) (int, []SignatureResult, error) {
	k := call{op: OpAddSignature, ids: ids{appID, docID}}
	route := c.routes[k.op]
	if route.Signature == SignatureRaw {
		return c.addRawSignatures(ctx, cred, k, sigs)
	}
	var res *http.Response
	var err error
	switch route.Signature {
	case SignatureMultipart:
		k.body, k.contentType, err = signatureForm(route, c.fields.SignatureAlgorithm, sigs)
		if err != nil {
			return 0, nil, err
		}
		res, err = c.send(ctx, cred, k)
	default:
		items := make([]map[string]any, len(sigs))
		for i, s := range sigs {
			items[i] = map[string]any{c.fields.SignatureAlgorithm: s.Algorithm, c.fields.SignatureValue: s.Value}
		}
		b, merr := json.Marshal(map[string]any{c.fields.SignatureList: items})
		if merr != nil {
			return 0, nil, fmt.Errorf("fips: %s: encode body: %w", k.op, merr)
		}
		k.body, k.contentType = bytes.NewReader(b), route.ContentType
		res, err = c.send(ctx, cred, k)
	}
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxJSONBody))
	if err != nil {
		return 0, nil, unreadable(k.op, err)
	}
	if res.StatusCode != http.StatusMultiStatus {
		var s Signature
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, nil, unreadable(k.op, err)
		}
		c.countUnread(k.op, &s)
		return res.StatusCode, []SignatureResult{{Code: res.StatusCode, Signature: &s}}, nil
	}
	items, err := parseMultiStatus(raw)
	if err != nil {
		return 0, nil, unreadable(k.op, fmt.Errorf("207 Multi-Status: %w", err))
	}
	out := make([]SignatureResult, 0, len(items))
	for _, r := range items {
		item := SignatureResult{Code: r.Code}
		if ok2xx(r.Code) {
			var s Signature
			if err := json.Unmarshal(r.Result, &s); err != nil {
				return 0, nil, unreadable(k.op, err)
			}
			c.countUnread(k.op, &s)
			item.Signature = &s
		} else {
			item.Error = c.failureError(cred, r.Code, failureOf(r.Result), "", fmt.Errorf("fips: %s: item status %d", k.op, r.Code))
		}
		out = append(out, item)
	}
	return res.StatusCode, out, nil
}

// addRawSignatures sends each signature as its own request (the raw shape
// carries one CMS per body). One signature answers as FIPS did; several
// come back as a 207 of their outcomes, a failed one with its error.
func (c *Client) addRawSignatures(ctx context.Context, cred *tenant.Credential, k call, sigs []SignatureInput) (int, []SignatureResult, error) {
	out := make([]SignatureResult, 0, len(sigs))
	for _, sig := range sigs {
		k.body, k.contentType = bytes.NewReader(sig.Value), c.routes[k.op].ContentType
		var s Signature
		status, _, err := c.doJSON(ctx, cred, k, nil, &s)
		if len(sigs) == 1 {
			if err != nil {
				return 0, nil, err
			}
			return status, []SignatureResult{{Code: status, Signature: &s}}, nil
		}
		if err != nil {
			out = append(out, SignatureResult{Code: StatusOf(err), Error: err})
			continue
		}
		out = append(out, SignatureResult{Code: status, Signature: &s})
	}
	return http.StatusMultiStatus, out, nil
}

// signatureForm is the multipart body of signatures: per signature a field
// named algorithm and a file part named route.Part with the CMS.
func signatureForm(route Route, algorithm string, sigs []SignatureInput) (io.Reader, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, s := range sigs {
		if err := mw.WriteField(algorithm, s.Algorithm); err != nil {
			return nil, "", err
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{
			"name": route.Part, "filename": fmt.Sprintf("signature-%d.sig", i+1)}))
		h.Set("Content-Type", "application/pkcs7-signature")
		p, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := p.Write(s.Value); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

// Submit sends the application for registration with a detached signature
// of its package, in the route's signature shape.
func (c *Client) Submit(ctx context.Context, cred *tenant.Credential, appID, algorithm string, signature []byte) (*Registration, error) {
	var out Registration
	k := call{op: OpSubmitApplication, ids: ids{app: appID}}
	route := c.routes[k.op]
	var in any
	switch route.Signature {
	case SignatureMultipart:
		body, ct, err := signatureForm(route, c.fields.SubmissionAlgorithm, []SignatureInput{{Algorithm: algorithm, Value: signature}})
		if err != nil {
			return nil, fmt.Errorf("fips: %s: encode body: %w", k.op, err)
		}
		k.body, k.contentType = body, ct
	case SignatureRaw:
		k.body, k.contentType = bytes.NewReader(signature), route.ContentType
	default:
		in = map[string]any{c.fields.SubmissionAlgorithm: algorithm, c.fields.SubmissionSignature: signature}
	}
	if _, _, err := c.doJSON(ctx, cred, k, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
