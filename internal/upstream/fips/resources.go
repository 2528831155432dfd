package fips

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
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
}

// DocumentCounts summarises an application's documents.
type DocumentCounts struct {
	Total        int `json:"total"`
	Unread       int `json:"unread"`
	Unregistered int `json:"unregistered"`
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
}

// Signature is a detached signature attached to a document or a package.
type Signature struct {
	ID                string         `json:"id"`
	Algorithm         string         `json:"algorithm"`
	Signer            string         `json:"signer"`
	CertificateSerial string         `json:"certificateSerial"`
	SignedAt          time.Time      `json:"signedAt"`
	Extra             map[string]any `json:"-"`
}

// Registration is what FIPS answers to a submission.
type Registration struct {
	ID                 string    `json:"id"`
	Status             string    `json:"status"`
	RegistrationNumber string    `json:"registrationNumber"`
	RegistrationDate   time.Time `json:"registrationDate"`
	IncomingNumber     string    `json:"incomingNumber"`
}

// Entry is a dictionary entry; Code is set for document types that have one.
type Entry struct {
	Name        string `json:"name"`
	Code        string `json:"code,omitempty"`
	Description string `json:"description"`
}

// mapped lists the members each type decodes into fields; the rest go to Extra.
var (
	applicationMembers = []string{"id", "registrationNumber", "type", "category", "title", "status",
		"createdAt", "registrationDate", "incomingNumber", "trusted", "documents"}
	documentMembers  = []string{"id", "registrationNumber", "type", "typeTitle", "description", "structured", "read", "createdAt"}
	signatureMembers = []string{"id", "algorithm", "signer", "certificateSerial", "signedAt"}
)

// decodeExtra decodes raw into v and returns the members not in known.
func decodeExtra(raw json.RawMessage, v any, known []string) (map[string]any, error) {
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	var all map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil {
		return nil, err
	}
	for _, k := range known {
		delete(all, k)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}

func (a *Application) UnmarshalJSON(b []byte) error {
	type plain Application
	var p plain
	extra, err := decodeExtra(b, &p, applicationMembers)
	*a, a.Extra = Application(p), extra
	return err
}

func (d *Document) UnmarshalJSON(b []byte) error {
	type plain Document
	var p plain
	extra, err := decodeExtra(b, &p, documentMembers)
	*d, d.Extra = Document(p), extra
	return err
}

func (s *Signature) UnmarshalJSON(b []byte) error {
	type plain Signature
	var p plain
	extra, err := decodeExtra(b, &p, signatureMembers)
	*s, s.Extra = Signature(p), extra
	return err
}

// ApplicationInput is the body of create and update. Attributes are further
// FIPS attributes sent as they are; the named fields take precedence.
type ApplicationInput struct {
	Type       string
	Category   string
	Title      *string
	Attributes map[string]any
}

func (in ApplicationInput) MarshalJSON() ([]byte, error) {
	m := maps.Clone(in.Attributes)
	if m == nil {
		m = map[string]any{}
	}
	if in.Type != "" {
		m["type"] = in.Type
	}
	m["category"] = in.Category
	if in.Title != nil {
		m["title"] = *in.Title
	}
	return json.Marshal(m)
}

// DocumentInput is the body of document create (Type or TypeTitle) and
// update (Description and Attributes only).
type DocumentInput struct {
	Type        string
	TypeTitle   string
	Description *string
	Attributes  map[string]any
}

func (in DocumentInput) MarshalJSON() ([]byte, error) {
	m := maps.Clone(in.Attributes)
	if m == nil {
		m = map[string]any{}
	}
	if in.Type != "" {
		m["type"] = in.Type
	}
	if in.TypeTitle != "" {
		m["TypeTitle"] = in.TypeTitle // FIPS's spelling
	}
	if in.Description != nil {
		m["description"] = *in.Description
	}
	return json.Marshal(m)
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
	_, _, err := c.doJSON(ctx, cred, call{op: OpListApplications, method: http.MethodGet, query: q}, nil, &out)
	return out, err
}

// CreateApplication creates a draft and returns it with FIPS's Location.
func (c *Client) CreateApplication(ctx context.Context, cred *tenant.Credential, in ApplicationInput) (*Application, string, error) {
	var out Application
	_, loc, err := c.doJSON(ctx, cred, call{op: OpCreateApplication, method: http.MethodPost}, in, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, loc, nil
}

// Application returns one application by internal id or registration number.
func (c *Client) Application(ctx context.Context, cred *tenant.Credential, appID string) (*Application, error) {
	var out Application
	_, _, err := c.doJSON(ctx, cred, call{op: OpGetApplication, method: http.MethodGet, ids: ids{app: appID}}, nil, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateApplication replaces an application's editable attributes.
func (c *Client) UpdateApplication(ctx context.Context, cred *tenant.Credential, appID string, in ApplicationInput) (*Application, error) {
	var out Application
	_, _, err := c.doJSON(ctx, cred, call{op: OpUpdateApplication, method: http.MethodPut, ids: ids{app: appID}}, in, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteApplication deletes a draft application.
func (c *Client) DeleteApplication(ctx context.Context, cred *tenant.Credential, appID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpDeleteApplication, method: http.MethodDelete, ids: ids{app: appID}}, nil, nil)
	return err
}

// ListDocuments lists an application's documents.
func (c *Client) ListDocuments(ctx context.Context, cred *tenant.Credential, appID string) ([]Document, error) {
	var out []Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpListDocuments, method: http.MethodGet, ids: ids{app: appID}}, nil, &out)
	return out, err
}

// CreateDocument adds an empty document and returns it with FIPS's Location.
func (c *Client) CreateDocument(ctx context.Context, cred *tenant.Credential, appID string, in DocumentInput) (*Document, string, error) {
	var out Document
	_, loc, err := c.doJSON(ctx, cred, call{op: OpCreateDocument, method: http.MethodPost, ids: ids{app: appID}}, in, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, loc, nil
}

// Document returns one document.
func (c *Client) Document(ctx context.Context, cred *tenant.Credential, appID, docID string) (*Document, error) {
	var out Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpGetDocument, method: http.MethodGet, ids: ids{appID, docID}}, nil, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDocument replaces a document's editable attributes.
func (c *Client) UpdateDocument(ctx context.Context, cred *tenant.Credential, appID, docID string, in DocumentInput) (*Document, error) {
	var out Document
	_, _, err := c.doJSON(ctx, cred, call{op: OpUpdateDocument, method: http.MethodPut, ids: ids{appID, docID}}, in, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDocument removes a document.
func (c *Client) DeleteDocument(ctx context.Context, cred *tenant.Credential, appID, docID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpDeleteDocument, method: http.MethodDelete, ids: ids{appID, docID}}, nil, nil)
	return err
}

// ClearDocumentFile removes a document's content (and its signatures).
func (c *Client) ClearDocumentFile(ctx context.Context, cred *tenant.Credential, appID, docID string) error {
	_, _, err := c.doJSON(ctx, cred, call{op: OpClearDocumentFile, method: http.MethodDelete, ids: ids{appID, docID}}, nil, nil)
	return err
}

// ListSignatures lists the signatures of a document's current content.
func (c *Client) ListSignatures(ctx context.Context, cred *tenant.Credential, appID, docID string) ([]Signature, error) {
	var out []Signature
	_, _, err := c.doJSON(ctx, cred, call{op: OpListSignatures, method: http.MethodGet, ids: ids{appID, docID}}, nil, &out)
	return out, err
}

// SignatureInput is one detached CMS signature; Value is the raw CMS (sent
// base64-encoded, its bytes unchanged).
type SignatureInput struct {
	Algorithm string `json:"algorithm"`
	Value     []byte `json:"value"`
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
// item for 201), with the answer's status.
func (c *Client) AddSignatures(ctx context.Context, cred *tenant.Credential, appID, docID string, sigs []SignatureInput) (int, []SignatureResult, error) {
	var raw json.RawMessage
	k := call{op: OpAddSignature, method: http.MethodPost, ids: ids{appID, docID}}
	status, _, err := c.doJSON(ctx, cred, k, map[string]any{"signatures": sigs}, &raw)
	if err != nil {
		return 0, nil, err
	}
	bad := func(err error) error { return unreadable(k.op, err) }
	if status != http.StatusMultiStatus {
		var s Signature
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, nil, bad(err)
		}
		return status, []SignatureResult{{Code: status, Signature: &s}}, nil
	}
	var multi struct {
		Results []struct {
			Code   int             `json:"code"`
			Result json.RawMessage `json:"result"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &multi); err != nil {
		return 0, nil, bad(err)
	}
	out := make([]SignatureResult, 0, len(multi.Results))
	for _, r := range multi.Results {
		item := SignatureResult{Code: r.Code}
		if r.Code >= 200 && r.Code <= 299 {
			var s Signature
			if err := json.Unmarshal(r.Result, &s); err != nil {
				return 0, nil, bad(err)
			}
			item.Signature = &s
		} else {
			var f Failure
			_ = json.Unmarshal(r.Result, &f)
			item.Error = c.failureError(cred, r.Code, f, "", fmt.Errorf("fips: %s: item status %d", k.op, r.Code))
		}
		out = append(out, item)
	}
	return status, out, nil
}

// Submit sends the application for registration with a detached signature
// of its package.
func (c *Client) Submit(ctx context.Context, cred *tenant.Credential, appID, algorithm string, signature []byte) (*Registration, error) {
	var out Registration
	in := map[string]any{"algorithm": algorithm, "signature": signature}
	_, _, err := c.doJSON(ctx, cred, call{op: OpSubmitApplication, method: http.MethodPost, ids: ids{app: appID}}, in, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
