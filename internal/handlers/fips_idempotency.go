package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
)

// idempotent runs create as the service's at-most-once create under the
// request's Idempotency-Key (fipssvc.Call.Create), its answer replayable.
func (c fipsCall) idempotent(ctx context.Context, key *string, op string, ids []string, body any, create func(context.Context) (idempotency.Response, error)) (fipsReplayable, error) {
	r, replayed, err := c.Create(ctx, deref(key), op, ids, body, create)
	return fipsReplayable{r: r, replayed: replayed}, err
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
