package handlers

import (
	"context"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// GarantPrimeCategories returns the PRIME category tree.
func (h garantHandlers) GarantPrimeCategories(ctx context.Context, request api.GarantPrimeCategoriesRequestObject) (api.GarantPrimeCategoriesResponseObject, error) {
	c, err := h.begin(ctx, "garantPrimeCategories")
	if err != nil {
		return nil, err
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, nil, garant.PrimeCategoriesCall(), func(r *garant.Categories) api.GarantPrimeCategoryTree {
		return api.GarantPrimeCategoryTree{Categories: categories(r.Categories)}
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}

// moscow is the time zone of Garant's calendar days (UTC+3, no DST).
var moscow = time.FixedZone("MSK", 3*60*60)

// GarantPrimeNews returns PRIME news.
func (h garantHandlers) GarantPrimeNews(ctx context.Context, request api.GarantPrimeNewsRequestObject) (api.GarantPrimeNewsResponseObject, error) {
	b := request.Body
	var from time.Time
	switch {
	case b.FromDate != nil:
		from = b.FromDate.Time
	case b.ToDate != nil: // the longest span Garant allows, ending on toDate
		from = b.ToDate.Time.AddDate(0, 0, -10)
	default: // Garant's days are Moscow days, and so is its default toDate
		from = time.Now().In(moscow).AddDate(0, 0, -10)
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	}
	switch {
	case from.Before(time.Now().AddDate(-1, 0, -1)):
		return nil, apperr.InvalidField("body.fromDate", "must be at most one year ago")
	case b.ToDate != nil && b.ToDate.Time.Before(from):
		return nil, apperr.InvalidField("body.toDate", "must not be before fromDate")
	case b.ToDate != nil && b.ToDate.Time.Sub(from) > 10*24*time.Hour:
		return nil, apperr.InvalidField("body.toDate", "must be at most 10 days after fromDate")
	}
	c, err := h.begin(ctx, "garantPrimeNews")
	if err != nil {
		return nil, err
	}
	req := garant.NewsRequest{Categories: b.Categories, FromDate: from.Format(time.DateOnly)}
	if b.ToDate != nil {
		s := b.ToDate.Format(time.DateOnly)
		req.ToDate = &s
	}
	if b.Sort != nil {
		s := int(*b.Sort)
		req.Sort = &s
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, garant.PrimeNewsCall(req), func(r *garant.News) api.GarantNewsList {
		out := api.GarantNewsList{News: make([]api.GarantNewsItem, 0, len(r.News))}
		for _, n := range r.News {
			out.News = append(out.News, api.GarantNewsItem{Name: n.Name, Document: docLink(n.Document), Paragraphs: orEmpty([]string(n.Paragraphs))})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}

// GarantCourtPractice runs the "Сутяжник" analysis.
func (h garantHandlers) GarantCourtPractice(ctx context.Context, request api.GarantCourtPracticeRequestObject) (api.GarantCourtPracticeResponseObject, error) {
	c, err := h.begin(ctx, "garantCourtPractice")
	if err != nil {
		return nil, err
	}
	b := request.Body
	req := garant.SutyazhnikRequest{Text: b.Text, Count: b.Count, Kind: make([]string, 0, len(b.Kind))}
	for _, k := range b.Kind {
		req.Kind = append(req.Kind, string(k))
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, garant.CourtPracticeCall(req), func(r *garant.Practice) api.GarantCourtPractice {
		out := api.GarantCourtPractice{Documents: make([]api.GarantCourtPracticeKind, 0, len(r.Documents))}
		for _, d := range r.Documents {
			out.Documents = append(out.Documents, api.GarantCourtPracticeKind{Kind: api.GarantCourtKind(d.Kind), Norms: docLinks(d.Norms), Courts: docLinks(d.Courts)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}
