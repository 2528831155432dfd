package handlers

import (
	"context"
	"strings"
	"time"

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
	// StreamIdle is how long a streamed upload or download may stall before
	// it is cut off; default 30s.
	StreamIdle time.Duration
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
