package fips

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// The FIPS document lists 207 among the codes of every method: "the result
// of several independent operations at once; the HTTP code and the result
// of each operation are in the JSON answer". It shows no body, so one is
// read leniently: {"results": [...]}, {"items": [...]} or a bare array, each
// item with its code ("code", "status", "statusCode" or "httpCode") and its
// result ("result", "data", "body" or "value"; an error body for a failed
// item), member names in any case.

// item is one operation of a 207 answer.
type item struct {
	Code   int
	Result json.RawMessage // nil when the item has none
}

// parseMultiStatus reads a 207 body.
func parseMultiStatus(b []byte) ([]item, error) {
	b = bytes.TrimSpace(b)
	var list []json.RawMessage
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, err
		}
	} else {
		o, err := readObject(b)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{"results", "items", "operations", "value"} {
			if raw := o.raw(name); raw != nil {
				if err := json.Unmarshal(raw, &list); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				break
			}
		}
	}
	out := make([]item, 0, len(list))
	for i, raw := range list {
		o, err := readObject(raw)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		it := item{}
		for _, name := range []string{"code", "status", "statusCode", "httpCode"} {
			if v := o.raw(name); v != nil {
				if s, ok := text(v); ok {
					_, _ = fmt.Sscanf(s, "%d", &it.Code)
				}
				if it.Code != 0 {
					break
				}
			}
		}
		if it.Code < 100 || it.Code > 599 {
			return nil, fmt.Errorf("item %d: no HTTP code", i)
		}
		for _, name := range []string{"result", "data", "body", "value", "error"} {
			if v := o.raw(name); v != nil {
				it.Result = v
				break
			}
		}
		out = append(out, it)
	}
	return out, nil
}

func ok2xx(code int) bool { return code >= 200 && code <= 299 }

// multiOutcome turns a 207 answer to op, which the contract answers with
// one outcome, into that outcome: the first failed item's error (with
// every item's code in the extension upstream_results), or the items'
// result: the first one's, or for a list (list true) all of them, each
// item's result an element or a list of elements. The status is the first
// item's.
func (c *Client) multiOutcome(cred *tenant.Credential, op string, body io.Reader, list bool) (int, json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxJSONBody))
	if err != nil {
		return 0, nil, unreadable(op, err)
	}
	items, err := parseMultiStatus(b)
	if err != nil {
		return 0, nil, unreadable(op, fmt.Errorf("207 Multi-Status: %w", err))
	}
	if len(items) == 0 {
		return http.StatusOK, nil, nil
	}
	codes := make([]map[string]int, 0, len(items))
	for _, it := range items {
		code := it.Code
		if code == http.StatusForbidden {
			code = http.StatusNotFound // another account's resource reads as a missing one
		}
		codes = append(codes, map[string]int{"code": code})
	}
	for i, it := range items {
		if ok2xx(it.Code) {
			continue
		}
		e := c.failureError(cred, it.Code, failureOf(it.Result), "",
			fmt.Errorf("fips: %s: 207 Multi-Status: item %d of %d status %d", op, i+1, len(items), it.Code))
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		e.Extensions["upstream_results"] = codes
		if len(items) > 1 {
			e.Detail = fmt.Sprintf("FIPS carried out %d operations for this request and %d of them failed; the first: %s",
				len(items), failedCount(items), e.Detail)
		}
		return 0, nil, e
	}
	if !list || len(items) == 1 {
		return items[0].Code, items[0].Result, nil
	}
	var all []json.RawMessage
	for _, it := range items {
		r := bytes.TrimSpace(it.Result)
		if len(r) == 0 {
			continue
		}
		if r[0] == '[' {
			var xs []json.RawMessage
			if err := json.Unmarshal(r, &xs); err != nil {
				return 0, nil, unreadable(op, err)
			}
			all = append(all, xs...)
			continue
		}
		all = append(all, r)
	}
	joined, err := json.Marshal(all)
	if err != nil {
		return 0, nil, unreadable(op, err)
	}
	return items[0].Code, joined, nil
}

func failedCount(items []item) int {
	n := 0
	for _, it := range items {
		if !ok2xx(it.Code) {
			n++
		}
	}
	return n
}

// failureOf reads an error body (nil: none).
func failureOf(raw json.RawMessage) Failure {
	var f Failure
	if raw != nil {
		_ = json.Unmarshal(raw, &f)
	}
	return f
}

// UnmarshalJSON reads an error body leniently: the message as "message",
// "Message", "detail", "title", "error" or "ExceptionMessage" (a bare
// string too); the findings as a list of {code, field, message} (any case;
// the field also as "key", "property" or "memberNames", the message also as
// "errorMessage"), or as ASP.NET's validation map {"field": ["message"]}
// under "errors" or "ModelState".
func (f *Failure) UnmarshalJSON(b []byte) error {
	*f = Failure{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &f.Message)
	}
	o, err := readObject(b)
	if err != nil {
		return err
	}
	for _, name := range []string{"message", "detail", "title", "error", "exceptionMessage", "error_description"} {
		if s := o.str(name); s != "" {
			f.Message = s
			break
		}
	}
	for _, name := range []string{"errors", "modelState"} {
		if raw := o.raw(name); raw != nil {
			f.Errors = append(f.Errors, findings(raw)...)
		}
	}
	return nil
}

// findings reads a list of findings or a field → messages map.
func findings(raw json.RawMessage) []Finding {
	raw = bytes.TrimSpace(raw)
	var out []Finding
	switch {
	case len(raw) > 0 && raw[0] == '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		for _, x := range list {
			o, err := readObject(x)
			if err != nil {
				if s, ok := text(x); ok {
					out = append(out, Finding{Message: s})
				}
				continue
			}
			fd := Finding{Code: o.str("code"), Message: o.str("message")}
			if fd.Message == "" {
				fd.Message = o.str("errorMessage")
			}
			for _, name := range []string{"field", "key", "property", "propertyName"} {
				if fd.Field = o.str(name); fd.Field != "" {
					break
				}
			}
			if fd.Field == "" {
				var names []string
				o.into("memberNames", &names)
				fd.Field = strings.Join(names, ",")
			}
			out = append(out, fd)
		}
	case len(raw) > 0 && raw[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		for _, field := range slices.Sorted(maps.Keys(m)) {
			v := m[field]
			var msgs []string
			if json.Unmarshal(v, &msgs) != nil {
				if s, ok := text(v); ok {
					msgs = []string{s}
				}
			}
			for _, msg := range msgs {
				out = append(out, Finding{Field: field, Message: msg})
			}
		}
	}
	return out
}

// multiStatusError is the error of a 207 on a download: FIPS sent a list
// of outcomes instead of the content.
func (c *Client) downloadMultiStatus(cred *tenant.Credential, op string, body io.Reader) error {
	_, _, err := c.multiOutcome(cred, op, body, false)
	if err != nil {
		return err
	}
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: Upstream,
		Detail: "FIPS answered 207 Multi-Status instead of the content",
		Err:    fmt.Errorf("fips: %s: 207 without content", op)}
}
