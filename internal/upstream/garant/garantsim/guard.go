package garantsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody caps any request body: find-hyperlinks takes up to 20 MB of text,
// which JSON escaping can grow.
const maxBody = 64 << 20

// handlerFunc serves one method. It writes the success answer itself and
// returns an *httpError (or any error, answered as 500) otherwise.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is an answer other than success.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return errorf(http.StatusNotFound, format, args...)
}

// handle registers h behind auth, rate limit, tariff, format and quota checks,
// in that order.
func (s *Server) handle(pattern, name string, h handlerFunc) {
	family := familyOf(name)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		err := s.serve(w, r, name, family, h)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, msg: "internal error"}
		}
		writeJSON(w, he.status, map[string]string{"error": he.msg})
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, name, family string, h handlerFunc) error {
	token, ok := bearer(r)
	tok, known := s.cfg.Tokens[token]
	if !ok || !known {
		return errorf(http.StatusUnauthorized, "invalid or expired token")
	}
	if !s.allow(token) {
		return errorf(http.StatusTooManyRequests, "too many requests: more than %d per second", s.cfg.RatePerSecond)
	}
	if !tariffAllows(tok, name) {
		return errorf(http.StatusUnauthorized, "token has no access to %s", name)
	}
	if err := denied(tok, name, r); err != nil {
		return err
	}
	if err := checkFormat(r, name); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if family == "" {
		return h(w, r)
	}
	month, err := s.reserve(token, tok, family)
	if err != nil {
		return err
	}
	if err := h(w, r); err != nil {
		s.refund(token, family, month)
		return err
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// allow applies the per-token rate limit over a sliding one-second window of
// the simulated clock. Rejected requests do not count.
func (s *Server) allow(token string) bool {
	now := s.Kit.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.hits[token][:0]
	for _, t := range s.hits[token] {
		if t.After(now.Add(-time.Second)) && !t.After(now) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= s.cfg.RatePerSecond {
		s.hits[token] = kept
		return false
	}
	s.hits[token] = append(kept, now)
	return true
}

func tariffAllows(tok Token, name string) bool {
	if len(tok.Methods) == 0 || name == "limits" {
		return true
	}
	for _, m := range tok.Methods {
		m = strings.TrimPrefix(strings.TrimPrefix(m, "/"), "v2/")
		if m == name || (familyOf(name) != "" && m == familyOf(name)) {
			return true
		}
	}
	return false
}

// denied answers 403 for a method the token has no rights for, or a
// document it may not see.
func denied(tok Token, name string, r *http.Request) error {
	for _, m := range tok.Denied {
		if strings.TrimPrefix(strings.TrimPrefix(m, "/"), "v2/") == name {
			return errorf(http.StatusForbidden, "no rights for this request: the token lacks the permission for %s", name)
		}
	}
	if v := r.PathValue("topic"); v != "" {
		for _, t := range tok.DeniedTopics {
			if strconv.Itoa(t) == v {
				return errorf(http.StatusForbidden, "no rights for this request: document %d is not available to the token", t)
			}
		}
	}
	return nil
}

// checkFormat enforces the only MIME type the API speaks. POST needs both
// headers; GET JSON methods reject a foreign Accept; files ignore Accept.
func checkFormat(r *http.Request, name string) error {
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil || mt != "application/json" {
			return badRequest("unsupported content type %q: application/json only", ct)
		}
		if r.Header.Get("Accept") == "" {
			return badRequest("accept header required: application/json")
		}
	}
	if isBinary(name) {
		return nil
	}
	if a := r.Header.Get("Accept"); a != "" && !acceptsJSON(a) {
		return badRequest("unsupported accept %q: application/json only", a)
	}
	return nil
}

func acceptsJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "application/json" || mt == "application/*" || mt == "*/*" {
			return true
		}
	}
	return false
}

// decodeBody reads a strict JSON object into v: unknown fields, wrong types
// and trailing data are format errors.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errorf(http.StatusRequestEntityTooLarge, "request body too large")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed request body: %v", err)
	}
	if dec.More() {
		return badRequest("malformed request body: trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the service sends HTML verbatim
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeFile(w http.ResponseWriter, contentType, filename string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if filename != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// pathInt reads a positive integer path value.
func pathInt(r *http.Request, key string) (int, error) {
	n, err := strconv.Atoi(r.PathValue(key))
	if err != nil || n <= 0 {
		return 0, badRequest("%s must be a positive integer", key)
	}
	return n, nil
}

// parseDay reads a YYYY-MM-DD date.
func parseDay(field, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, badRequest("%s must be a date YYYY-MM-DD, got %q", field, v)
	}
	return t, nil
}
