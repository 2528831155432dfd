package handlers

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// earliestControlDate is the first day Garant's monitoring accepts.
var earliestControlDate = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)

// GarantFindModified checks documents for changes (links_control quota;
// not cached unless a TTL is configured, then cached like the others).
func (h garantHandlers) GarantFindModified(ctx context.Context, request api.GarantFindModifiedRequestObject) (api.GarantFindModifiedResponseObject, error) {
	b := request.Body
	if b.ModDate.Time.Before(earliestControlDate) {
		return nil, apperr.InvalidField("body.modDate", "must be 2018-01-01 or later")
	}
	c, err := h.begin(ctx, "garantFindModified")
	if err != nil {
		return nil, err
	}
	req := garant.FindModifiedRequest{Topics: b.Topics, ModDate: b.ModDate.Format(time.DateOnly), NeedEvents: deref(b.NeedEvents)}
	cc, cached := c.monitoringCache(ctx)
	res, err := cachedJSON(ctx, c, cc, 0, req, garant.FindModifiedCall(req), func(r *garant.ModifiedTopics) api.GarantModifiedTopics {
		out := api.GarantModifiedTopics{Topics: make([]api.GarantModifiedTopic, 0, len(r.Topics))}
		for _, t := range r.Topics {
			out.Topics = append(out.Topics, api.GarantModifiedTopic{Topic: t.Topic, ModStatus: api.GarantModStatus(t.ModStatus), Events: events(t.Events, c.Unparsed)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, cached, true), nil
}

// monitoringCache is whether a monitoring operation is cached (a TTL is
// configured for it; by default it is not) and, when it is, the client's
// Cache-Control, read from the request: the contract declares neither for
// these operations.
func (c *garantCall) monitoringCache(ctx context.Context) (cc *string, cached bool) {
	if !c.Cached() {
		return nil, false
	}
	if r := exchangeFrom(ctx).r; r != nil {
		if v := r.Header.Get("Cache-Control"); v != "" {
			cc = &v
		}
	}
	return cc, true
}

// fragmentLink is a full fragment link of the Garant front end.
var fragmentLink = regexp.MustCompile(`^https?://[^/#\s]+/?#/document/\d+(?:/entry/\d+)?/?$`)

// GarantBlocksChanged checks fragments for changes (links_control quota;
// not cached unless a TTL is configured, then cached like the others).
func (h garantHandlers) GarantBlocksChanged(ctx context.Context, request api.GarantBlocksChangedRequestObject) (api.GarantBlocksChangedResponseObject, error) {
	b := request.Body
	if b.FromDate.Time.Before(earliestControlDate) {
		return nil, apperr.InvalidField("body.fromDate", "must be 2018-01-01 or later")
	}
	for i, u := range b.URLArray {
		if !fragmentLink.MatchString(u) {
			return nil, apperr.InvalidField(fmt.Sprintf("body.urlArray.%d", i), "must be a fragment link such as https://internet.garant.ru/#/document/12112604/entry/1")
		}
	}
	c, err := h.begin(ctx, "garantBlocksChanged")
	if err != nil {
		return nil, err
	}
	req := garant.BlocksRequest{FromDate: b.FromDate.Format(time.DateOnly), URLArray: b.URLArray, NeedEvents: deref(b.NeedEvents)}
	cc, cached := c.monitoringCache(ctx)
	res, err := cachedJSON(ctx, c, cc, 0, req, garant.BlocksChangedCall(req), func(r *garant.ModifiedBlocks) api.GarantModifiedBlocks {
		out := api.GarantModifiedBlocks{URLArray: make([]api.GarantModifiedBlock, 0, len(r.URLArray))}
		for _, x := range r.URLArray {
			out.URLArray = append(out.URLArray, api.GarantModifiedBlock{URL: x.URL, ModStatus: api.GarantModStatus(x.ModStatus), Events: events(x.Events, c.Unparsed)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, cached, true), nil
}

// GarantGetLimits returns Garant's own quota report, never cached, and
// lowers the gateway's counters to it.
func (h garantHandlers) GarantGetLimits(ctx context.Context, request api.GarantGetLimitsRequestObject) (api.GarantGetLimitsResponseObject, error) {
	c, err := h.begin(ctx, "garantGetLimits")
	if err != nil {
		return nil, err
	}
	limits, raw, err := c.Limits(ctx)
	if err != nil {
		return nil, err
	}
	if garantNative(ctx) {
		return jsonAnswer{body: raw}, nil
	}
	out := api.GarantGetLimits200JSONResponse{Limits: make([]api.GarantLimit, 0, len(limits))}
	for _, l := range limits {
		out.Limits = append(out.Limits, api.GarantLimit{Title: l.Title, Value: int(l.Value), Names: orEmpty(l.Names)})
	}
	return out, nil
}

// GarantPurgeCache deletes cached answers of the caller's credential scope
// (admins only).
func (h garantHandlers) GarantPurgeCache(ctx context.Context, request api.GarantPurgeCacheRequestObject) (api.GarantPurgeCacheResponseObject, error) {
	c, err := h.begin(ctx, "garantPurgeCache")
	if err != nil {
		return nil, err
	}
	if !c.Tenant.Admin {
		return nil, &apperr.Error{Kind: apperr.Forbidden, Detail: "only admin tenants may purge the Garant cache"}
	}
	n, err := c.Purge(ctx, deref(request.Params.Operation), deref(request.Params.Topic))
	if err != nil {
		return nil, err
	}
	return api.GarantPurgeCache200JSONResponse{Deleted: n}, nil
}
