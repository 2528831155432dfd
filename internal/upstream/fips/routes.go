package fips

import (
	"cmp"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Route is how one operation reaches FIPS. The FIPS document publishes none
// of this (its Swagger UI at https://kpsrtz.fips.ru/api/swagger does), so
// every field is configuration with a default (DefaultRoutes) that is a
// proposal, not a confirmed fact.
type Route struct {
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the template relative to the base URL, with {applicationId}
	// and {documentId}.
	Path string `json:"path"`
	// ContentType is the media type of the request body: for the JSON
	// operations (create and update) a JSON type, default application/json;
	// for the uploads (document file, statement) multipart/form-data (the
	// default, the document's words) or any other type, which sends the
	// bytes alone as the body; for the signature operations with the raw
	// shape, the body's type (default application/pkcs7-signature). Empty
	// for operations without a body.
	ContentType string `json:"content_type,omitempty"`
	// Part is the multipart part name of the uploads (default "file") and
	// of signatures with the multipart shape (default "signature").
	Part string `json:"part,omitempty"`
	// Signature is how fipsSubmitApplication and fipsAddSignature carry the
	// detached CMS: "json" (default: {"algorithm", "signature"} for a
	// submission, {"signatures": [{"algorithm", "value"}]} to add, the CMS
	// base64-encoded), "multipart" (a form field "algorithm" and a file part
	// named Part per signature) or "raw" (the CMS bytes as the body, one
	// request per signature; the algorithm is the one inside the CMS).
	Signature string `json:"signature,omitempty"`
}

// Signature body shapes.
const (
	SignatureJSON      = "json"
	SignatureMultipart = "multipart"
	SignatureRaw       = "raw"
)

// bodyKind is what an operation sends.
type bodyKind int

const (
	bodyNone bodyKind = iota
	bodyJSON
	bodyUpload
	bodySignature
)

func bodyOf(op string) bodyKind {
	switch op {
	case OpCreateApplication, OpUpdateApplication, OpCreateDocument, OpUpdateDocument:
		return bodyJSON
	case OpPutDocumentFile, OpPutStatement:
		return bodyUpload
	case OpSubmitApplication, OpAddSignature:
		return bodySignature
	}
	return bodyNone
}

// DefaultRoutes is the route table of REFERENCE.md §3.2 (and the
// simulator's default), relative to a base URL that ends in /api/v1. None
// of it is confirmed by the FIPS document: the paths, methods (PUT for
// updates), the part name and the signature shape are guesses to check
// against FIPS's Swagger UI.
func DefaultRoutes() map[string]Route {
	const app = "/applications/{applicationId}"
	const doc = app + "/documents/{documentId}"
	get := func(p string) Route { return Route{Method: http.MethodGet, Path: p} }
	del := func(p string) Route { return Route{Method: http.MethodDelete, Path: p} }
	js := func(m, p string) Route { return Route{Method: m, Path: p, ContentType: "application/json"} }
	up := func(p string) Route {
		return Route{Method: http.MethodPut, Path: p, ContentType: "multipart/form-data", Part: "file"}
	}
	sig := func(p string) Route {
		return Route{Method: http.MethodPost, Path: p, ContentType: "application/json", Signature: SignatureJSON}
	}
	return map[string]Route{
		OpListApplications: get("/applications"), OpCreateApplication: js(http.MethodPost, "/applications"),
		OpGetApplication: get(app), OpUpdateApplication: js(http.MethodPut, app), OpDeleteApplication: del(app),
		OpGetPackage: get(app + "/package"), OpSubmitApplication: sig(app + "/package/signature"),
		OpListDocuments: get(app + "/documents"), OpCreateDocument: js(http.MethodPost, app+"/documents"),
		OpGetDocument: get(doc), OpUpdateDocument: js(http.MethodPut, doc), OpDeleteDocument: del(doc),
		OpGetDocumentFile: get(doc + "/file"), OpPutDocumentFile: up(doc + "/file"), OpClearDocumentFile: del(doc + "/file"),
		OpGetStatement: get(doc + "/statement"), OpPutStatement: up(doc + "/statement"),
		OpListSignatures: get(doc + "/signatures"), OpAddSignature: sig(doc + "/signatures"),
		OpListApplicantCategories:    get("/dictionaries/applicant-categories"),
		OpListApplicantDocumentTypes: get("/dictionaries/applicant-document-types"),
		OpListDocumentTypes:          get("/dictionaries/document-types"),
	}
}

// ResolveRoutes lays overrides over DefaultRoutes (an override's empty
// fields keep the default's, and a changed signature shape takes that
// shape's default content type and part) and checks the result, naming
// the operation and field at fault.
func ResolveRoutes(overrides map[string]Route) (map[string]Route, error) {
	routes := DefaultRoutes()
	for _, op := range slices.Sorted(maps.Keys(overrides)) {
		o := overrides[op]
		r, ok := routes[op]
		if !ok {
			return nil, fmt.Errorf("routes: unknown operation %q (known: %s)", op, strings.Join(Operations(), ", "))
		}
		if o.Signature != "" && o.Signature != r.Signature {
			r.Signature, r.ContentType, r.Part = o.Signature, "", ""
		}
		if o.ContentType != "" && bodyOf(op) == bodyUpload && !isMultipart(o.ContentType) {
			r.Part = ""
		}
		r.Method = cmp.Or(strings.ToUpper(o.Method), r.Method)
		r.Path = cmp.Or(o.Path, r.Path)
		r.ContentType = cmp.Or(o.ContentType, r.ContentType)
		r.Part = cmp.Or(o.Part, r.Part)
		routes[op] = r
	}
	for _, op := range Operations() {
		r, err := checkRoute(op, routes[op])
		if err != nil {
			return nil, err
		}
		routes[op] = r
	}
	return routes, nil
}

// checkRoute validates one route and fills the defaults of its shape.
func checkRoute(op string, r Route) (Route, error) {
	bad := func(field, format string, args ...any) (Route, error) {
		return Route{}, fmt.Errorf("routes.%s.%s: %s", op, field, fmt.Sprintf(format, args...))
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bad("method", "%q is not one of GET, POST, PUT, PATCH, DELETE", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") {
		return bad("path", "%q must start with /", r.Path)
	}
	if strings.Contains(r.Path, "*") {
		// The gateway serves the table under /compat/fips with chi, where
		// '*' is a wildcard.
		return bad("path", "%q has a '*': a FIPS path is literal segments and {placeholders}", r.Path)
	}
	for _, m := range placeholder.FindAllStringSubmatch(r.Path, -1) {
		if m[1] != paramApplication && m[1] != paramDocument {
			return bad("path", "unknown parameter {%s} (use {%s} and {%s})", m[1], paramApplication, paramDocument)
		}
	}
	kind := bodyOf(op)
	if r.ContentType != "" {
		if _, _, err := mime.ParseMediaType(r.ContentType); err != nil {
			return bad("content_type", "%q is not a media type", r.ContentType)
		}
	}
	switch kind {
	case bodyNone:
		if r.ContentType != "" || r.Part != "" || r.Signature != "" {
			return bad("content_type", "the operation sends no body: content_type, part and signature do not apply")
		}
	case bodyJSON:
		if r.Part != "" || r.Signature != "" {
			return bad("part", "the operation sends JSON: part and signature do not apply")
		}
		if !isJSON(r.ContentType) {
			return bad("content_type", "%q is not a JSON media type (application/json or …+json)", r.ContentType)
		}
	case bodyUpload:
		if r.Signature != "" {
			return bad("signature", "applies only to %s and %s", OpSubmitApplication, OpAddSignature)
		}
		if isMultipart(r.ContentType) {
			r.Part = cmp.Or(r.Part, "file")
		} else if r.Part != "" {
			return bad("part", "applies only with content_type multipart/form-data")
		}
	case bodySignature:
		switch r.Signature {
		case SignatureJSON:
			r.ContentType = cmp.Or(r.ContentType, "application/json")
			if !isJSON(r.ContentType) || r.Part != "" {
				return bad("content_type", "the json signature shape sends JSON (and has no part)")
			}
		case SignatureMultipart:
			r.ContentType = cmp.Or(r.ContentType, "multipart/form-data")
			r.Part = cmp.Or(r.Part, "signature")
			if !isMultipart(r.ContentType) {
				return bad("content_type", "the multipart signature shape sends multipart/form-data")
			}
		case SignatureRaw:
			r.ContentType = cmp.Or(r.ContentType, "application/pkcs7-signature")
			if r.Part != "" {
				return bad("part", "the raw signature shape has no part")
			}
		default:
			return bad("signature", "%q is not one of json, multipart, raw", r.Signature)
		}
	}
	if r.Part != "" && strings.ContainsAny(r.Part, "\"\r\n") {
		return bad("part", "%q is not a usable part name", r.Part)
	}
	return r, nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json")
}

func isMultipart(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "multipart/form-data"
}
