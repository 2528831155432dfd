package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// idempotent runs create at most once per tenant and Idempotency-Key for the
// same request (operation, path ids and canonical JSON body). With a key the
// upstream call outlives a dropped client connection, so that the retry can
// replay its answer.
func (c fipsCall) idempotent(ctx context.Context, key *string, op string, ids []string, body any, create func(context.Context) (idempotency.Response, error)) (fipsReplayable, error) {
	k := deref(key)
	if k == "" {
		r, err := create(ctx)
		return fipsReplayable{r: r}, err
	}
	if c.Idem == nil {
		return fipsReplayable{}, apperr.New(apperr.Unavailable, "Idempotency-Key is not supported by this gateway's configuration")
	}
	canonical, err := json.Marshal(body) // the decoded body: member order and spacing do not matter
	if err != nil {
		return fipsReplayable{}, apperr.Wrap(apperr.Internal, "", err)
	}
	parts := [][]byte{[]byte(op)}
	for _, id := range ids {
		parts = append(parts, []byte(id))
	}
	fp := idempotency.Fingerprint(append(parts, canonical)...)
	r, replayed, err := c.Idem.Do(ctx, c.tenant.ID, k, fp, func(ctx context.Context) (idempotency.Response, error) {
		r, err := create(context.WithoutCancel(ctx))
		if errors.Is(err, fips.ErrOutcomeUnknown) {
			// FIPS may have created it: the key must not run the create again.
			return r, idempotency.Uncertain(fipsOutcomeUnknown(err))
		}
		return r, err
	})
	return fipsReplayable{r: r, replayed: replayed}, err
}

// fipsOutcomeUnknown tells the caller of a create that failed after FIPS may
// have carried it out to check before trying again.
func fipsOutcomeUnknown(err error) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	c := *e
	c.Detail += "; FIPS may have carried out the request: check (for example by listing the resources) " +
		"before sending it again with a new Idempotency-Key, as this key will not run it again"
	return &c
}

// fipsJSON renders an answer once, so that a replay sends the same bytes.
func fipsJSON(status int, location string, v any) (idempotency.Response, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return idempotency.Response{}, apperr.Wrap(apperr.Internal, "", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if location != "" {
		h.Set("Location", location)
	}
	return idempotency.Response{Status: status, Header: h, Body: buf.Bytes()}, nil
}

// fipsReplayable writes a recorded answer (first or replayed).
type fipsReplayable struct {
	r        idempotency.Response
	replayed bool
}

func (x fipsReplayable) write(w http.ResponseWriter) error {
	for k, v := range x.r.Header {
		w.Header()[k] = v
	}
	if x.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(x.r.Status)
	_, err := w.Write(x.r.Body)
	return err
}

func (x fipsReplayable) VisitFipsCreateApplicationResponse(w http.ResponseWriter) error {
	return x.write(w)
}

func (x fipsReplayable) VisitFipsCreateDocumentResponse(w http.ResponseWriter) error {
	return x.write(w)
}

func (x fipsReplayable) VisitFipsAddSignatureResponse(w http.ResponseWriter) error { return x.write(w) }
func (x fipsReplayable) VisitFipsSubmitApplicationResponse(w http.ResponseWriter) error {
	return x.write(w)
}
