// Package fipssvc is the FIPS service: the rules every FIPS Registrator
// call the gateway makes follows, whichever route asked (/v1/fips or
// /compat/fips). A category or document type is checked against FIPS's own
// dictionaries before anything is sent to FIPS. A create (application,
// document, signature, submission) sent with an Idempotency-Key runs at most
// once per tenant and key for the same request (operation, path ids and
// canonical body): its answer is recorded and replayed, its upstream call
// outlives a dropped client connection, and a create FIPS may have carried
// out (fips.ErrOutcomeUnknown) keeps the key from running it again.
//
// The service knows FIPS's client types, not the gateway's contract: a
// caller passes a create function that calls FIPS and renders the answer as
// the route sends it; those bytes are what a replay sends.
//
// Redis keys: the idempotency store's (internal/idempotency).
package fipssvc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// Service is what every FIPS operation uses, built by cmd/gateway.
type Service struct {
	Client *fips.Client
	// Idem records Idempotency-Key answers of the creating operations
	// (application, document, signature, submission); nil: a request with
	// an Idempotency-Key is refused.
	Idem *idempotency.Store
}

// Call is one request to a FIPS operation: who calls, with which
// credential.
type Call struct {
	*Service
	Tenant     *tenant.Tenant
	Credential *tenant.Credential
}

// Begin starts a call by t with its FIPS credential cred.
func (s *Service) Begin(t *tenant.Tenant, cred *tenant.Credential) *Call {
	return &Call{Service: s, Tenant: t, Credential: cred}
}

// CheckCategory refuses a category that is not a full path of the
// applicant-category dictionary, before anything is sent to FIPS.
func (c *Call) CheckCategory(ctx context.Context, category string) error {
	cats, err := c.Client.ApplicantCategories(ctx, c.Credential)
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

// CheckDocumentType refuses a type code or template name that no dictionary lists.
func (c *Call) CheckDocumentType(ctx context.Context, code, title string) error {
	common, err := c.Client.DocumentTypes(ctx, c.Credential)
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
	own, err := c.Client.ApplicantDocumentTypes(ctx, c.Credential)
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

// AcceptsKeys is nil when the service records Idempotency-Key answers, and
// otherwise the error that refuses a request sending one.
func (s *Service) AcceptsKeys() error {
	if s.Idem == nil {
		return apperr.New(apperr.Unavailable, "Idempotency-Key is not supported by this gateway's configuration")
	}
	return nil
}

// Raw is a request body as it came (a /compat/fips create): a JSON body is
// fingerprinted canonical (member order and spacing do not matter), any
// other as its bytes are.
type Raw []byte

// Create runs create at most once per tenant and Idempotency-Key key for
// the same request: operation op, path ids and body, a decoded JSON body
// (canonical as marshalled: member order and spacing do not matter) or Raw.
// With key "" it runs create once, unrecorded. With a key the upstream call
// outlives a dropped client connection, so that the retry can replay its
// answer; replayed tells a recorded answer. A create that fails with
// fips.ErrOutcomeUnknown is recorded as uncertain (OutcomeUnknown): the key
// will not run it again. An error of create marked idempotency.Uncertain
// keeps the key too; any other releases it.
func (c *Call) Create(ctx context.Context, key, op string, ids []string, body any, create func(context.Context) (idempotency.Response, error)) (r idempotency.Response, replayed bool, err error) {
	if key == "" {
		r, err := create(ctx)
		return r, false, err
	}
	if err := c.AcceptsKeys(); err != nil {
		return idempotency.Response{}, false, err
	}
	canonical, err := canonicalBody(body)
	if err != nil {
		return idempotency.Response{}, false, apperr.Wrap(apperr.Internal, "", err)
	}
	parts := [][]byte{[]byte(op)}
	for _, id := range ids {
		parts = append(parts, []byte(id))
	}
	fp := idempotency.Fingerprint(append(parts, canonical)...)
	return c.Idem.Do(ctx, c.Tenant.ID, key, fp, func(ctx context.Context) (idempotency.Response, error) {
		r, err := create(context.WithoutCancel(ctx))
		if errors.Is(err, fips.ErrOutcomeUnknown) {
			// FIPS may have created it: the key must not run the create again.
			return r, idempotency.Uncertain(OutcomeUnknown(err))
		}
		return r, err
	})
}

func canonicalBody(body any) ([]byte, error) {
	raw, ok := body.(Raw)
	if !ok {
		return json.Marshal(body) // the decoded body: member order and spacing do not matter
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		return json.Marshal(v)
	}
	return raw, nil
}

// OutcomeUnknown tells the caller of a create that failed after FIPS may
// have carried it out to check before trying again.
func OutcomeUnknown(err error) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	c := *e
	c.Detail += "; FIPS may have carried out the request: check (for example by listing the resources) " +
		"before sending it again with a new Idempotency-Key, as this key will not run it again"
	return &c
}
