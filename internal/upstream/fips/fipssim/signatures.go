package fipssim

import (
	"cmp"
	"encoding/base64"
	"io"
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
	var err error
	in.Signatures, err = readSignatures(w, r, func() ([]signatureInput, error) {
		err := decodeJSON(w, r, &in)
		return in.Signatures, err
	})
	if err != nil {
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
		created(w, s.pathOf("fipsListSignatures", a.id, d.id), sig)
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

// rawAlgorithm is what the simulator records for a signature sent raw: it
// does not parse CMS, where the algorithm would be.
const rawAlgorithm = "GOST R 34.10-2012-256"

// readSignatures reads the signatures of r in its route's shape: "json"
// through fromJSON, "multipart" as a field "algorithm" and a file part (the
// route's Part, default "signature") per signature, "raw" as one CMS body.
// Values come back base64-encoded, as in JSON.
func readSignatures(w http.ResponseWriter, r *http.Request, fromJSON func() ([]signatureInput, error)) ([]signatureInput, error) {
	rt := routeOf(r)
	switch rt.Signature {
	case "", "json":
		return fromJSON()
	case "raw":
		p, err := readRawBody(w, r, cmp.Or(rt.ContentType, "application/pkcs7-signature"))
		if err != nil {
			return nil, err
		}
		return []signatureInput{{Algorithm: rawAlgorithm, Value: base64.StdEncoding.EncodeToString(p.data)}}, nil
	case "multipart":
		name := cmp.Or(rt.Part, "signature")
		if err := checkContentType(r, "multipart/form-data"); err != nil || r.Header.Get("Content-Type") == "" {
			return nil, newError(http.StatusUnsupportedMediaType, "Подписи передаются как multipart/form-data")
		}
		if err := r.ParseMultipartForm(maxJSONBody); err != nil {
			return nil, newError(http.StatusBadRequest, "Некорректное тело multipart/form-data")
		}
		algField := renamingOf(r).algorithmField()
		algs, files := r.MultipartForm.Value[algField], r.MultipartForm.File[name]
		if len(files) == 0 {
			return nil, errFLK(fieldError{"FLK_REQUIRED", name, "В запросе нет части multipart с именем " + name})
		}
		if len(algs) != len(files) {
			return nil, errFLK(fieldError{"FLK_REQUIRED", algField, "Для каждой подписи укажите алгоритм (" + algField + ")"})
		}
		out := make([]signatureInput, 0, len(files))
		for i, fh := range files {
			f, err := fh.Open()
			if err != nil {
				return nil, newError(http.StatusBadRequest, "Некорректное тело multipart/form-data")
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return nil, newError(http.StatusBadRequest, "Некорректное тело multipart/form-data")
			}
			out = append(out, signatureInput{Algorithm: algs[i], Value: base64.StdEncoding.EncodeToString(b)})
		}
		return out, nil
	}
	return nil, newError(http.StatusInternalServerError, "unknown signature shape "+rt.Signature)
}
