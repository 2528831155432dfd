package handlers

import (
	"mime"
	"net/http"
	"strconv"

	"github.com/legalgate/legalgate/internal/garantsvc"
)

// jsonAnswer is a 200 JSON answer of a Garant operation whose body is
// already encoded (by this request's fill or when it was cached): it is
// written as it is, with the headers the contract declares for the
// operation. It implements the generated response interface of every JSON
// Garant operation.
type jsonAnswer struct {
	body            []byte
	cacheStatus     string // "" for none
	age             int
	withAge         bool
	rateLimit       string // "" for none
	rateLimitPolicy string
}

// answer is the JSON answer res with the headers the operation's contract
// declares: Cache-Status and Age from the cache when cached is true, the
// RateLimit fields of this request's reservation when rate is true.
func answer(res *garantsvc.Answer, cached, rate bool) jsonAnswer {
	a := jsonAnswer{body: res.Body}
	if cached {
		a.cacheStatus, a.age, a.withAge = res.CacheStatus, res.Age, res.Hit
	}
	if rate {
		a.rateLimit, a.rateLimitPolicy = res.RateLimit, res.RateLimitPolicy
	}
	return a
}

func (a jsonAnswer) write(w http.ResponseWriter) error {
	h := w.Header()
	// The fixed fields' values share one allocation; each slice is capped
	// at its one value, so an Add elsewhere cannot write into the next.
	v := new([3]string)
	v[0] = "application/json"
	h["Content-Type"] = v[0:1:1]
	if a.withAge {
		v[1] = strconv.Itoa(a.age)
		h["Age"] = v[1:2:2]
	}
	if a.cacheStatus != "" {
		v[2] = a.cacheStatus
		h["Cache-Status"] = v[2:3:3]
	}
	if a.rateLimit != "" {
		h.Set("RateLimit", a.rateLimit)
	}
	if a.rateLimitPolicy != "" {
		h.Set("RateLimit-Policy", a.rateLimitPolicy)
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a.body)
	return err
}

func (a jsonAnswer) VisitGarantSearchResponse(w http.ResponseWriter) error    { return a.write(w) }
func (a jsonAnswer) VisitGarantSnippetsResponse(w http.ResponseWriter) error  { return a.write(w) }
func (a jsonAnswer) VisitGarantGetTopicResponse(w http.ResponseWriter) error  { return a.write(w) }
func (a jsonAnswer) VisitGarantPrimeNewsResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitGarantFindHyperlinksResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantGetTopicEditionsResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantGetTopicHTMLResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantGetEntryHTMLResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantFindModifiedResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantBlocksChangedResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantPrimeCategoriesResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGarantGetLimitsResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitGarantCourtPracticeResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// cacheHeaders are the Cache-Status and Age of an answer (Age only when it
// came from the cache).
func cacheHeaders(s *garantsvc.Served) (status *string, age *int) {
	if s.CacheStatus != "" {
		status = &s.CacheStatus
	}
	if s.Hit {
		age = &s.Age
	}
	return status, age
}

// rateHeaders are the RateLimit fields of the request's own reservation.
func rateHeaders(s *garantsvc.Served) (rl, policy *string) {
	if s.RateLimit != "" {
		rl = &s.RateLimit
	}
	if s.RateLimitPolicy != "" {
		policy = &s.RateLimitPolicy
	}
	return rl, policy
}

// mediaType is the bare media type of a Content-Type value.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}
