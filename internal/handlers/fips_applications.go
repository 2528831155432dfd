package handlers

import (
	"context"
	"net/http"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

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
	list, err := c.Client.ListApplications(ctx, c.Credential, o)
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
			if err := c.CheckCategory(ctx, b.Category); err != nil {
				return idempotency.Response{}, err
			}
			a, loc, err := c.Client.CreateApplication(ctx, c.Credential, in)
			if err != nil {
				return idempotency.Response{}, err
			}
			id := a.ID
			if r, ok := c.Client.ResolveLocation(loc, fips.OpGetApplication); ok {
				id = r.ApplicationID
			}
			if id == "" {
				return idempotency.Response{}, fipsNoID("application")
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
	a, err := c.Client.Application(ctx, c.Credential, request.ApplicationID)
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
	if err := c.CheckCategory(ctx, b.Category); err != nil {
		return nil, err
	}
	in := fips.ApplicationInput{Category: b.Category, Title: b.Title, Attributes: fipsAttrs(b.Attributes)}
	a, err := c.Client.UpdateApplication(ctx, c.Credential, request.ApplicationID, in)
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
	if err := c.Client.DeleteApplication(ctx, c.Credential, request.ApplicationID); err != nil {
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
	content, err := c.Client.Package(ctx, c.Credential, request.ApplicationID)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, content, "application/xml"), nil
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
			r, err := c.Client.Submit(ctx, c.Credential, request.ApplicationID, string(b.Algorithm), b.Signature)
			if err != nil {
				return idempotency.Response{}, err
			}
			out := api.FIPSSubmissionResult{Status: r.Status, RegistrationNumber: r.RegistrationNumber,
				RegistrationDate: r.RegistrationDate, IncomingNumber: fipsOptional(r.IncomingNumber), Attributes: fipsUpstreamAttrs(r.Extra)}
			return fipsJSON(http.StatusOK, "", out)
		})
}
