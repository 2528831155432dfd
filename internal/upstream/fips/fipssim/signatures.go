package fipssim

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
)

// algorithms are the accepted detached-signature algorithms.
func algorithms() []string {
	return []string{"GOST R 34.10-2012-256", "GOST R 34.10-2012-512", "GOST R 34.10-2001"}
}

// decodeSignature checks an algorithm and a base64 detached CMS.
func decodeSignature(algorithm, value string) ([]byte, *apiError) {
	if !slices.Contains(algorithms(), algorithm) {
		return nil, errFLK(fieldError{"FLK_ENUM", "algorithm", "Алгоритм подписи не поддерживается: допустимы " + strings.Join(algorithms(), ", ")})
	}
	if strings.TrimSpace(value) == "" {
		return nil, errFLK(fieldError{"FLK_REQUIRED", "value", "Пустая подпись"})
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil || len(b) == 0 {
		return nil, errFLK(fieldError{"FLK_FORMAT", "value", "Подпись должна быть открепленной CMS в base64"})
	}
	return b, nil
}

func (s *Server) newSignature(c *account, algorithm string, cms []byte, now time.Time) signature {
	return signature{
		ID: s.st.newID(), Signer: c.name, CertificateSerial: c.certSerial, Algorithm: algorithm,
		SignedAt: now, Size: len(cms), Digest: digest(cms),
	}
}

func (s *Server) listSignatures(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	out := append([]signature{}, d.signatures...)
	writeJSON(w, http.StatusOK, out)
	return nil
}

type signatureInput struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// itemResult is one entry of a 207 Multi-Status answer.
type itemResult struct {
	Code   int `json:"code"`
	Result any `json:"result"`
}

// addSignatures adds one signature (201) or a batch (207, one result each).
func (s *Server) addSignatures(w http.ResponseWriter, r *http.Request, c *account) error {
	var in struct {
		Signatures []signatureInput `json:"signatures"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if len(in.Signatures) == 0 {
		return errFLK(fieldError{"FLK_REQUIRED", "signatures", "Не передано ни одной подписи"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, d, err := s.findDoc(c, r)
	if err != nil {
		return err
	}
	switch {
	case d.regNum != "":
		return errRegisteredDoc()
	case d.incoming:
		return newError(http.StatusConflict, "Входящий документ ФИПС не подписывается заявителем")
	case !d.hasContent():
		return newError(http.StatusConflict, "Документ без содержимого (или заявление без пройденного ФЛК) подписать нельзя")
	}
	now := s.now()
	add := func(in signatureInput) (signature, *apiError) {
		cms, e := decodeSignature(in.Algorithm, in.Value)
		if e != nil {
			return signature{}, e
		}
		sig := s.newSignature(c, in.Algorithm, cms, now)
		d.signatures = append(d.signatures, sig)
		return sig, nil
	}
	if len(in.Signatures) == 1 {
		sig, e := add(in.Signatures[0])
		if e != nil {
			return e
		}
		created(w, docPath(a, d)+"/signatures", sig)
		return nil
	}
	results := make([]itemResult, 0, len(in.Signatures))
	for _, item := range in.Signatures {
		sig, e := add(item)
		if e != nil {
			results = append(results, itemResult{Code: e.Status, Result: e})
			continue
		}
		results = append(results, itemResult{Code: http.StatusCreated, Result: sig})
	}
	writeJSON(w, http.StatusMultiStatus, map[string]any{"results": results})
	return nil
}
