package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

func fipsApplicationPath(appID string) string { return fipsBase + fipsSegment(appID) }

func fipsDocumentPath(appID, docID string) string {
	return fipsApplicationPath(appID) + "/documents/" + fipsSegment(docID)
}

// fipsNoID is the error of a create FIPS answered with success but without
// the new resource's id (in its body or Location): it may exist, unnamed.
func fipsNoID(what string) error {
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: fips.Upstream,
		Detail: "FIPS answered the creation without the new " + what + "'s id",
		Err:    fmt.Errorf("fips: create %s: no id in the answer (%w)", what, fips.ErrOutcomeUnknown)}
}

// fipsSegment escapes an id FIPS gave as one path segment of a gateway
// URL: "." and ".." too, which url.PathEscape leaves as they are.
func fipsSegment(id string) string {
	if id == "." || id == ".." {
		return strings.ReplaceAll(id, ".", "%2E")
	}
	return url.PathEscape(id)
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
		CertificateSerial: s.CertificateSerial, SignedAt: s.SignedAt, Attributes: fipsUpstreamAttrs(s.Extra)}
}

// fipsDictionary is a dictionary of names; an entry's code, which only
// document types have a member for, stays among its attributes.
func fipsDictionary(entries []fips.Entry) api.FIPSDictionary {
	out := api.FIPSDictionary{Items: make([]api.FIPSDictionaryEntry, 0, len(entries))}
	for _, e := range entries {
		extra := e.Extra
		if e.Code != "" {
			extra = maps.Clone(extra)
			if extra == nil {
				extra = map[string]any{}
			}
			extra["code"] = e.Code
		}
		out.Items = append(out.Items, api.FIPSDictionaryEntry{Name: e.Name, Description: e.Description, Attributes: fipsUpstreamAttrs(extra)})
	}
	return out
}

// fipsUpstreamAttrs is FIPS's unnamed members; nil when there are none.
func fipsUpstreamAttrs(m map[string]any) *api.FIPSUpstreamAttributes {
	if len(m) == 0 {
		return nil
	}
	a := api.FIPSUpstreamAttributes(m)
	return &a
}

// fipsItemProblem is the problem of one failed item of a 207: the problem
// errors.go makes of its error, in the contract's type.
func fipsItemProblem(ctx context.Context, err error) (*api.Problem, error) {
	p, _ := problemOf(err, infoFrom(ctx))
	b, err := json.Marshal(p)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	var out api.Problem
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	return &out, nil
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
